package io.peregrine.engine.sched;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PendingMediaTest {
    private static PendingMedia twoSpans() {
        return new PendingMedia(2, List.of(new PendingMedia.Slot(4, 3, 11), new PendingMedia.Slot(10, 2, 12)));
    }

    @Test
    void readinessFollowsCompletionsInOrder() {
        PendingMedia p = twoSpans();
        AtomicInteger wakes = new AtomicInteger();
        p.onProgress(wakes::incrementAndGet);
        assertEquals(4, p.readyEnd(0));
        assertEquals(5, p.readyEnd(5), "inside a missing span nothing is computable");
        assertEquals(10, p.readyEnd(7), "past a missing span (a prefix-cache hit) up to the next one");
        assertThrows(IllegalStateException.class, () -> p.complete(1, new float[4]));
        assertThrows(IllegalArgumentException.class, () -> p.complete(0, new float[5]));
        p.complete(0, new float[6]);
        assertEquals(10, p.readyEnd(0));
        assertEquals(1, p.completedSpans().size());
        assertEquals(4, p.completedSpans().getFirst().start());
        p.complete(1, new float[4]);
        assertTrue(p.isComplete());
        assertEquals(Integer.MAX_VALUE, p.readyEnd(0));
        assertEquals(2, wakes.get());
        p.fail("too late", true);
        assertNull(p.failure(), "a failure after the last span changes nothing");
    }

    @Test
    void failureAndCancelReachTheOtherSide() {
        PendingMedia p = twoSpans();
        AtomicInteger cancels = new AtomicInteger();
        p.onCancel(cancels::incrementAndGet);
        p.fail("chunk 2: corrupt", true);
        assertEquals(new PendingMedia.Failure("chunk 2: corrupt", true), p.failure());
        p.complete(0, new float[6]);
        assertEquals(0, p.completedCount(), "rows after a failure are dropped");
        p.cancel();
        p.cancel();
        assertEquals(1, cancels.get());
        p.onCancel(cancels::incrementAndGet);
        assertEquals(2, cancels.get(), "a listener added after the cancel runs at once");
    }

    @Test
    void pendingSpansGetTheBlockHashesTheyWillHaveWhenReady() {
        MediaSpan image = new MediaSpan(1, 2, 2, new float[4], 7);
        MediaSpan chunk1 = new MediaSpan(4, 3, 2, new float[6], 11);
        MediaSpan chunk2 = new MediaSpan(10, 2, 2, new float[4], 12);
        long[] ready = MediaSpan.blockHashes(List.of(image, chunk1, chunk2), 4);
        long[] pending = MediaSpan.blockHashes(List.of(image), twoSpans(), 4);
        assertArrayEquals(ready, pending);
        assertThrows(IllegalArgumentException.class, () -> new PendingMedia(2,
                List.of(new PendingMedia.Slot(4, 3, 1), new PendingMedia.Slot(6, 2, 2))));
    }
}
