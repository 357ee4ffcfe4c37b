package io.peregrine.engine.media;

import io.peregrine.engine.media.pdf.PdfLimits;
import io.peregrine.engine.media.video.VideoLimits;

/**
 * What the media of one request may cost, checked before any pixel is encoded.
 *
 * @param maxVisionTokens LM positions of all images, PDF pages and video chunks of one request together
 */
public record MediaBudget(int maxVisionTokens, VideoLimits video, PdfLimits pdf) {

    /** 64 Ki vision tokens (about 16 full-budget images), the media package's video and PDF defaults. */
    public static final MediaBudget DEFAULT = new MediaBudget(65_536, VideoLimits.DEFAULT, PdfLimits.DEFAULT);

    /**
     * The default on the CPU backend: two full-budget images, or about nine pages of the 200 pt blank PDF that
     * brought it in (870 tokens each). A prompt's prefill grows with its square (attention), and on a CPU 64 Ki
     * vision tokens cost minutes of prefill however small the request that asks for them (a 7 KB PDF of 50 blank
     * pages is 45,258 tokens); 8 Ki stay in seconds on the demo checkpoint (docs/performance.md).
     */
    public static final int CPU_VISION_TOKENS = 8_192;

    public MediaBudget {
        if (maxVisionTokens <= 0) {
            throw new IllegalArgumentException("maxVisionTokens must be positive, got " + maxVisionTokens);
        }
    }

    /** This budget with another request-level vision-token cap (a video's own cap follows it). */
    public MediaBudget withMaxVisionTokens(int tokens) {
        return new MediaBudget(tokens, new VideoLimits(video.maxBytes(), video.maxDurationSeconds(),
                video.maxSampledFrames(), video.maxPixelsPerFrame(), tokens), pdf);
    }
}
