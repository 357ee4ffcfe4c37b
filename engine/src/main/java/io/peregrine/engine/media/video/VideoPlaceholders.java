package io.peregrine.engine.media.video;

import java.util.List;

/**
 * The K2.5 processor's text step for videos ({@code KimiK25Processor.update_raw_text}): the chat template writes one
 * {@link #PLACEHOLDER} per video part, and each becomes the concatenated chunk prompts of that video, in order.
 */
public final class VideoPlaceholders {
    private VideoPlaceholders() {}

    public static final String PLACEHOLDER = "<|kimi_k25_video_placeholder|>";

    /** Replaces the i-th placeholder with {@code videos.get(i).promptText()}; the counts must agree. */
    public static String expand(String renderedText, List<SamplingPlan> videos) {
        StringBuilder out = new StringBuilder(renderedText.length() + videos.size() * 128);
        int from = 0;
        int used = 0;
        for (int at = renderedText.indexOf(PLACEHOLDER); at >= 0; at = renderedText.indexOf(PLACEHOLDER, from)) {
            if (used == videos.size()) {
                throw new IllegalArgumentException("the prompt has more video placeholders than the "
                        + videos.size() + " videos given");
            }
            out.append(renderedText, from, at).append(videos.get(used++).promptText());
            from = at + PLACEHOLDER.length();
        }
        if (used != videos.size()) {
            throw new IllegalArgumentException("the prompt has " + used + " video placeholders but " + videos.size()
                    + " videos were given");
        }
        return out.append(renderedText, from, renderedText.length()).toString();
    }
}
