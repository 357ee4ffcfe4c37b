package io.peregrine.engine.media.video;

import io.peregrine.engine.media.RgbFrame;

/**
 * One decoded frame, rotated upright.
 *
 * @param frameIndex source frame index in presentation order (what the sampler asked for)
 * @param ptsSeconds its presentation time relative to the first frame (the real time, also for variable frame rate)
 */
public record VideoFrame(int frameIndex, double ptsSeconds, RgbFrame image) {}
