package io.peregrine.engine.media;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.peregrine.engine.sched.MediaSpan;
import io.peregrine.engine.vision.encoder.VisionEmbeddings;
import java.util.List;
import org.junit.jupiter.api.Test;

class MediaSpliceTest {
    private static final int P = 99;

    static MediaSplice.Item item(int tokens, long hash) {
        return new MediaSplice.Item(new VisionEmbeddings(tokens, 2, new float[tokens * 2]), hash);
    }

    @Test
    void eachPadBecomesItsItemsTokensInOrder() {
        MediaSplice.Item a = item(3, 7);
        MediaSplice.Item b = item(2, 8);
        MediaSplice.Spliced s = MediaSplice.expand(new int[] {1, P, 2, P, 3}, P, List.of(a, b));
        assertArrayEquals(new int[] {1, P, P, P, 2, P, P, 3}, s.ids());
        assertEquals(2, s.spans().size());
        MediaSpan first = s.spans().get(0);
        MediaSpan second = s.spans().get(1);
        assertEquals(1, first.start());
        assertEquals(3, first.tokens());
        assertEquals(7, first.contentHash());
        assertSame(a.embeddings().values(), first.rows());
        assertEquals(5, second.start());
        assertEquals(2, second.tokens());
        assertEquals(8, second.contentHash());
    }

    @Test
    void padCountMustMatchTheItems() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> MediaSplice.expand(new int[] {1, P, 2}, P, List.of(item(3, 1), item(1, 2))));
        assertEquals("the rendered prompt has 1 media placeholders for 2 vision items", e.getMessage());
    }

    @Test
    void laterItemsBecomePendingSlotsAfterTheEncodedOnes() {
        MediaSplice.Item a = item(3, 7);
        MediaSplice.Streamed s = MediaSplice.expand(new int[] {1, P, 2, P, 3, P}, P, List.of(a),
                List.of(new MediaSplice.Later(2, 8), new MediaSplice.Later(4, 9)), 2);
        assertArrayEquals(new int[] {1, P, P, P, 2, P, P, 3, P, P, P, P}, s.ids());
        assertEquals(1, s.spans().size());
        assertEquals(List.of(new io.peregrine.engine.sched.PendingMedia.Slot(5, 2, 8),
                new io.peregrine.engine.sched.PendingMedia.Slot(8, 4, 9)), s.pending().slots());
        assertEquals(2, s.pending().hidden());
        var e = assertThrows(IllegalArgumentException.class, () -> MediaSplice.expand(new int[] {1, P}, P, List.of(a),
                List.of(new MediaSplice.Later(2, 8)), 2));
        assertEquals("the rendered prompt has 1 media placeholders for 2 vision items", e.getMessage());
    }
}
