package io.peregrine.engine.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.peregrine.engine.dist.ShmCommunicator;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every field of a step's slices reaches the worker as rank 0 sent it: tokens, positions, tables, flags, media rows. */
class StepBroadcastTest {
    private static final int HIDDEN = 5;

    @TempDir
    Path dir;

    @Test
    void slicesCachesAndStopArriveIntact() throws Exception {
        float[] media = {1.5f, -2f, Float.MIN_VALUE, 3e30f, -0f};
        List<SequenceSlice> batch = List.of(
                new SequenceSlice(new int[] {7}, 40, new int[] {3, 1, 2}, false),
                new SequenceSlice(new int[] {163_839, 1813, 9}, 0, new int[] {0}, true,
                        new float[][] {null, media, null}));
        Path file = dir.resolve("group");
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            Future<List<StepBroadcast.Message>> worker = pool.submit(() -> {
                try (ShmCommunicator c = ShmCommunicator.open(file, 1, 2, 64, Duration.ofSeconds(20))) {
                    StepBroadcast b = new StepBroadcast(c, HIDDEN);
                    return List.of(b.receive(), b.receive(), b.receive(), b.receive());
                }
            });
            try (ShmCommunicator c = ShmCommunicator.open(file, 0, 2, 64, Duration.ofSeconds(20))) {
                StepBroadcast b = new StepBroadcast(c, HIDDEN);
                b.sendCache(12, 16);
                b.sendStep(batch);
                b.sendStep(List.of());
                b.sendStop();
            }
            List<StepBroadcast.Message> got = worker.get(20, TimeUnit.SECONDS);
            assertEquals(new StepBroadcast.Cache(12, 16), got.get(0));
            List<SequenceSlice> step = assertInstanceOf(StepBroadcast.Step.class, got.get(1)).batch();
            assertEquals(2, step.size());
            for (int s = 0; s < 2; s++) {
                SequenceSlice sent = batch.get(s);
                SequenceSlice received = step.get(s);
                assertArrayEquals(sent.tokens(), received.tokens());
                assertEquals(sent.startPos(), received.startPos());
                assertArrayEquals(sent.blockTable(), received.blockTable());
                assertEquals(sent.allLogits(), received.allLogits());
            }
            assertNull(step.get(0).inputEmbeddings());
            assertNull(step.get(1).inputEmbedding(0));
            assertArrayEquals(media, step.get(1).inputEmbedding(1));
            assertNull(step.get(1).inputEmbedding(2));
            assertEquals(List.of(), assertInstanceOf(StepBroadcast.Step.class, got.get(2)).batch());
            assertInstanceOf(StepBroadcast.Stop.class, got.get(3));
        } finally {
            pool.shutdownNow();
        }
    }
}
