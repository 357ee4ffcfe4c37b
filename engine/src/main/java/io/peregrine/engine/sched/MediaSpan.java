package io.peregrine.engine.sched;

import java.util.ArrayList;
import java.util.List;

/**
 * One vision item spliced into a prompt (spec §4.8): the prompt positions {@code start .. start + tokens - 1} hold
 * {@code <|media_pad|>} ids whose input embeddings are replaced by the item's projector rows, in order. Positions
 * stay sequential; only the embedding changes.
 *
 * @param rows        {@code tokens * hidden} floats, row-major (one row per position)
 * @param contentHash identifies the content (e.g. the first 64 bits of the bytes' SHA-256); it goes into the
 *                    prefix-cache key of every block the item touches, so the same ids with another image never
 *                    share cached latents
 */
public record MediaSpan(int start, int tokens, int hidden, float[] rows, long contentHash) {

    public MediaSpan {
        if (start < 0 || tokens < 1 || hidden < 1) {
            throw new IllegalArgumentException("media span needs start >= 0, tokens >= 1, hidden >= 1; got start "
                    + start + ", tokens " + tokens + ", hidden " + hidden);
        }
        if (rows.length != (long) tokens * hidden) {
            throw new IllegalArgumentException("media span of " + tokens + " x " + hidden + " has " + rows.length + " floats");
        }
    }

    public int end() {
        return start + tokens;
    }

    /** Checks that spans are sorted, disjoint and inside a prompt of {@code promptLength} positions. */
    public static void checkLayout(List<MediaSpan> spans, int promptLength, int hidden) {
        int prevEnd = 0;
        for (int i = 0; i < spans.size(); i++) {
            MediaSpan m = spans.get(i);
            if (m.start() < prevEnd) {
                throw new IllegalArgumentException("media item " + i + " starts at " + m.start()
                        + ", inside or before the previous item (ends at " + prevEnd + ")");
            }
            if (m.end() > promptLength) {
                throw new IllegalArgumentException("media item " + i + " covers positions " + m.start() + ".." + (m.end() - 1)
                        + " of a prompt of " + promptLength);
            }
            if (m.hidden() != hidden) {
                throw new IllegalArgumentException("media item " + i + " has rows of " + m.hidden()
                        + " floats; the model's hidden size is " + hidden);
            }
            prevEnd = m.end();
        }
    }

    /**
     * Per-position rows for positions {@code from .. to - 1}: null where the token's own embedding applies, or
     * null altogether when no span overlaps. Rows are copies, so nothing downstream can corrupt an embedding the
     * encoder cache still holds.
     */
    public static float[][] rowsFor(List<MediaSpan> spans, int from, int to) {
        float[][] out = null;
        for (MediaSpan m : spans) {
            int lo = Math.max(from, m.start());
            int hi = Math.min(to, m.end());
            if (lo >= hi) {
                continue;
            }
            if (out == null) {
                out = new float[to - from][];
            }
            for (int p = lo; p < hi; p++) {
                int r = p - m.start();
                float[] row = new float[m.hidden()];
                System.arraycopy(m.rows(), r * m.hidden(), row, 0, m.hidden());
                out[p - from] = row;
            }
        }
        return out;
    }

    /**
     * Per cache block, a hash of the media content inside it (0 for a text-only block), for the prefix-cache key.
     * A block gets the hash of every item overlapping it, mixed with where the item starts, so a block cut from
     * the middle of one image never matches the same ids cut from another.
     *
     * @return null when there are no spans
     */
    public static long[] blockHashes(List<MediaSpan> spans, int blockSize) {
        return blockHashes(spans, null, blockSize);
    }

    /**
     * {@link #blockHashes(List, int)} over the spans ready at submission followed by those still pending: a pending
     * span's content hash is known up front, so its blocks get the same keys as when its rows are there.
     *
     * @param pending null when every span is ready
     * @return null when there are no spans
     */
    public static long[] blockHashes(List<MediaSpan> ready, PendingMedia pending, int blockSize) {
        List<long[]> items = new ArrayList<>(); // {start, end, contentHash}
        for (MediaSpan m : ready) {
            items.add(new long[] {m.start(), m.end(), m.contentHash()});
        }
        if (pending != null) {
            for (PendingMedia.Slot s : pending.slots()) {
                items.add(new long[] {s.start(), s.end(), s.contentHash()});
            }
        }
        if (items.isEmpty()) {
            return null;
        }
        int last = 0;
        for (long[] it : items) {
            last = Math.max(last, (int) it[1]);
        }
        long[] out = new long[(last + blockSize - 1) / blockSize];
        for (long[] it : items) {
            int start = (int) it[0];
            int end = (int) it[1];
            for (int b = start / blockSize; b <= (end - 1) / blockSize; b++) {
                long h = out[b] * 0x9E3779B97F4A7C15L + it[2];
                h ^= (long) start * 0xC2B2AE3D27D4EB4FL;
                out[b] = h == 0 ? 1 : h; // 0 means "no media"
            }
        }
        return out;
    }
}
