package io.peregrine.engine.media.video;

/**
 * What the container says about the video stream.
 *
 * @param width           display width (after rotation)
 * @param height          display height (after rotation)
 * @param rotationDegrees clockwise rotation applied to decoded frames (0, 90, 180, 270) from the display matrix
 * @param numFrames       frames in the stream (counted from the packet index, like a frame-accurate reader)
 * @param avgFps          average frame rate ({@code avg_frame_rate}, else frames / duration)
 * @param durationSeconds last frame time minus first frame time plus one frame
 * @param codec           decoder name, e.g. "h264"
 * @param container       demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
 */
public record VideoInfo(int width, int height, int rotationDegrees, int numFrames, double avgFps,
                        double durationSeconds, String codec, String container) {}
