package io.peregrine.engine.sched;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.model.SequenceSlice;
import java.util.List;
import org.junit.jupiter.api.Test;

class MediaSpanTest {

    /** Row r of a span holds {r*10, r*10+1}, plus {@code base}. */
    static MediaSpan span(int start, int tokens, long hash, float base) {
        float[] rows = new float[tokens * 2];
        for (int r = 0; r < tokens; r++) {
            rows[2 * r] = base + r * 10;
            rows[2 * r + 1] = base + r * 10 + 1;
        }
        return new MediaSpan(start, tokens, 2, rows, hash);
    }

    @Test
    void rowsForASliceCutThroughSpans() {
        List<MediaSpan> spans = List.of(span(2, 3, 1, 0), span(6, 2, 2, 100));
        float[][] rows = MediaSpan.rowsFor(spans, 3, 8); // positions 3..7
        assertArrayEquals(new float[] {10, 11}, rows[0]); // position 3: row 1 of the first span
        assertArrayEquals(new float[] {20, 21}, rows[1]);
        assertNull(rows[2]); // position 5 is text
        assertArrayEquals(new float[] {100, 101}, rows[3]);
        assertArrayEquals(new float[] {110, 111}, rows[4]);
        assertNull(MediaSpan.rowsFor(spans, 0, 2), "no media in 0..1");
        assertNull(MediaSpan.rowsFor(spans, 8, 20));
    }

    @Test
    void blockHashesMarkEveryBlockAnItemTouches() {
        long[] h = MediaSpan.blockHashes(List.of(span(3, 6, 42, 0)), 4); // positions 3..8: blocks 0, 1, 2
        assertEquals(3, h.length);
        for (long v : h) {
            assertNotEquals(0, v);
        }
        long[] other = MediaSpan.blockHashes(List.of(span(3, 6, 43, 0)), 4);
        for (int b = 0; b < 3; b++) {
            assertNotEquals(h[b], other[b], "block " + b + " must depend on the content");
        }
        long[] moved = MediaSpan.blockHashes(List.of(span(2, 6, 42, 0)), 4);
        assertNotEquals(h[0], moved[0], "the same content starting elsewhere is another block");
        long[] gap = MediaSpan.blockHashes(List.of(span(0, 2, 1, 0), span(9, 2, 2, 0)), 4);
        assertEquals(0, gap[1], "a text-only block between two images carries no media hash");
        assertNull(MediaSpan.blockHashes(List.of(), 4));
    }

    @Test
    void layoutIsChecked() {
        MediaSpan.checkLayout(List.of(span(0, 2, 1, 0), span(2, 2, 1, 0)), 4, 2);
        var overlap = assertThrows(IllegalArgumentException.class,
                () -> MediaSpan.checkLayout(List.of(span(0, 3, 1, 0), span(2, 2, 1, 0)), 10, 2));
        assertTrue(overlap.getMessage().contains("media item 1 starts at 2"), overlap.getMessage());
        assertThrows(IllegalArgumentException.class, () -> MediaSpan.checkLayout(List.of(span(0, 3, 1, 0)), 2, 2));
        assertThrows(IllegalArgumentException.class, () -> new MediaSpan(0, 2, 2, new float[3], 1));
        assertThrows(IllegalArgumentException.class, () -> new SequenceSlice(new int[] {1, 2}, 0, new int[] {0}, false,
                new float[1][]));
    }
}
