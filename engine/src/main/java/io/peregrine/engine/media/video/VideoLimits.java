package io.peregrine.engine.media.video;

/**
 * What one video may cost, checked from the container header and the packet index, before any frame is decoded.
 *
 * @param maxBytes           encoded size
 * @param maxDurationSeconds playing time
 * @param maxSampledFrames   frames the K2.5 sampler picks (2 per second)
 * @param maxPixelsPerFrame  coded width * height
 * @param maxVisionTokens    LM positions of all chunks together (the request-level budget is the caller's sum)
 */
public record VideoLimits(long maxBytes, double maxDurationSeconds, int maxSampledFrames, long maxPixelsPerFrame,
                          int maxVisionTokens) {

    /** 30 minutes at 2 fps is 3,600 frames; 8K frames; 256 MiB; the K2.5 context is 262,144 positions. */
    public static final VideoLimits DEFAULT = new VideoLimits(256L << 20, 1800, 3600, 7680L * 4320, 196_608);

    public VideoLimits {
        if (maxBytes <= 0 || !(maxDurationSeconds > 0) || maxSampledFrames <= 0 || maxPixelsPerFrame <= 0
                || maxVisionTokens <= 0) {
            throw new IllegalArgumentException("video limits must be positive: bytes " + maxBytes + ", seconds "
                    + maxDurationSeconds + ", frames " + maxSampledFrames + ", pixels " + maxPixelsPerFrame
                    + ", tokens " + maxVisionTokens);
        }
    }
}
