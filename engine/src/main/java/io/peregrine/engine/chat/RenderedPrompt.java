package io.peregrine.engine.chat;

import io.peregrine.engine.tokenizer.KimiTokenizer;
import io.peregrine.engine.tokenizer.SpecialTextPolicy;

import java.util.Arrays;

/**
 * A rendered prompt and where in it the caller's text sits. Template markers are always special tokens; text from
 * messages and tool declarations (the content spans) keeps literal special-token strings as ordinary text unless
 * the caller opts into the reference behaviour.
 *
 * @param contentSpans sorted, non-overlapping [start, end) pairs of UTF-16 indices into {@code text}
 */
public record RenderedPrompt(String text, int[] contentSpans, int images, int videos) {
    public RenderedPrompt {
        contentSpans = contentSpans.clone();
        if (contentSpans.length % 2 != 0) {
            throw new IllegalArgumentException("content spans must be start/end pairs");
        }
    }

    @Override
    public int[] contentSpans() {
        return contentSpans.clone();
    }

    /** True if {@code index} falls inside caller-supplied text. */
    public boolean inContent(int index) {
        // Spans are sorted by start: find the last span starting at or before index.
        int lo = 0, hi = contentSpans.length / 2 - 1, found = -1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (contentSpans[2 * mid] <= index) {
                found = mid;
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        return found >= 0 && index < contentSpans[2 * found + 1];
    }

    /** The first {@code end} characters; content spans are clipped to them. */
    public RenderedPrompt truncate(int end) {
        if (end < 0 || end > text.length()) {
            throw new IndexOutOfBoundsException("cut at " + end + " of " + text.length());
        }
        int[] s = new int[contentSpans.length];
        int n = 0;
        for (int i = 0; i < contentSpans.length && contentSpans[i] < end; i += 2) {
            s[n++] = contentSpans[i];
            s[n++] = Math.min(contentSpans[i + 1], end);
        }
        return new RenderedPrompt(text.substring(0, end), Arrays.copyOf(s, n), images, videos);
    }

    /** This prompt followed by caller text (a content span). */
    public RenderedPrompt appendContent(String content) {
        if (content.isEmpty()) {
            return this;
        }
        int n = contentSpans.length;
        int start = text.length();
        int[] s;
        if (n > 0 && contentSpans[n - 1] == start) {
            s = contentSpans.clone(); // merge with the adjacent span
        } else {
            s = Arrays.copyOf(contentSpans, n + 2);
            s[n] = start;
            n += 2;
        }
        s[s.length - 1] = start + content.length();
        return new RenderedPrompt(text + content, s, images, videos);
    }

    /**
     * Replaces each video placeholder of the template with the processor's per-chunk prompts: for every chunk its
     * start time {@code HH:MM:SS.mmm} followed by {@code <|media_begin|>video<|media_content|><|media_pad|><|media_end|>}
     * (the placeholder's trailing newline stays). Only placeholders the template wrote are replaced; the same text
     * typed by a user is left alone.
     *
     * @param chunkStartSeconds one list per video, in prompt order: the start time of each chunk
     */
    public RenderedPrompt expandVideos(java.util.List<java.util.List<Double>> chunkStartSeconds) {
        java.util.List<String> texts = new java.util.ArrayList<>();
        for (java.util.List<Double> video : chunkStartSeconds) {
            StringBuilder chunks = new StringBuilder();
            for (double t : video) {
                chunks.append(timestamp(t)).append("<|media_begin|>video<|media_content|><|media_pad|><|media_end|>");
            }
            texts.add(chunks.toString());
        }
        return expandVideoTexts(texts);
    }

    /**
     * Replaces the i-th video placeholder the template wrote with {@code videoTexts.get(i)} (the processor's chunk
     * prompts, e.g. {@code media.video.SamplingPlan.promptText()}, whose timestamps follow the processor's own
     * formatting). The same text typed by a user is left alone.
     */
    public RenderedPrompt expandVideoTexts(java.util.List<String> videoTexts) {
        if (videoTexts.size() != videos) {
            throw new IllegalArgumentException("the prompt has " + videos + " video(s) but chunk texts were given for "
                    + videoTexts.size());
        }
        String placeholder = "<|kimi_k25_video_placeholder|>";
        StringBuilder sb = new StringBuilder(text.length() + 256);
        java.util.List<Integer> spans = new java.util.ArrayList<>();
        int from = 0;
        int video = 0;
        int spanIdx = 0;
        int shift = 0;
        int at;
        while (video < videos && (at = text.indexOf(placeholder, from)) >= 0) {
            if (inContent(at)) {
                sb.append(text, from, at + placeholder.length());
                from = at + placeholder.length();
                continue;
            }
            sb.append(text, from, at);
            String chunks = videoTexts.get(video);
            sb.append(chunks);
            // content spans after this point move by the length difference
            for (; spanIdx < contentSpans.length && contentSpans[spanIdx] <= at; spanIdx++) {
                spans.add(contentSpans[spanIdx] + shift);
            }
            shift += chunks.length() - placeholder.length();
            from = at + placeholder.length();
            video++;
        }
        if (video != videos) {
            throw new IllegalStateException("found " + video + " of " + videos + " video placeholders");
        }
        sb.append(text, from, text.length());
        for (; spanIdx < contentSpans.length; spanIdx++) {
            spans.add(contentSpans[spanIdx] + shift);
        }
        return new RenderedPrompt(sb.toString(), spans.stream().mapToInt(Integer::intValue).toArray(), images, videos);
    }

    /** {@code HH:MM:SS.mmm}, as the processor prints chunk start times. */
    static String timestamp(double seconds) {
        long ms = Math.round(seconds * 1000);
        return String.format(java.util.Locale.ROOT, "%02d:%02d:%02d.%03d", ms / 3_600_000, ms / 60_000 % 60,
                ms / 1000 % 60, ms % 1000);
    }

    /** Token ids; {@code contentPolicy} decides what special-token text inside caller content becomes. */
    public int[] tokenize(KimiTokenizer tokenizer, SpecialTextPolicy contentPolicy) {
        if (contentPolicy == SpecialTextPolicy.AS_SPECIAL) {
            return tokenizer.encode(text, SpecialTextPolicy.AS_SPECIAL);
        }
        return tokenizer.encode(text, i -> !inContent(i));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RenderedPrompt p && p.text.equals(text) && Arrays.equals(p.contentSpans, contentSpans)
                && p.images == images && p.videos == videos;
    }

    @Override
    public int hashCode() {
        return text.hashCode() * 31 + Arrays.hashCode(contentSpans);
    }

    @Override
    public String toString() {
        return "RenderedPrompt[" + text.length() + " chars, " + contentSpans.length / 2 + " content spans]";
    }
}
