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

    public MediaBudget {
        if (maxVisionTokens <= 0) {
            throw new IllegalArgumentException("maxVisionTokens must be positive, got " + maxVisionTokens);
        }
    }
}
