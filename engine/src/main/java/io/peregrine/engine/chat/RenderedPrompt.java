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
