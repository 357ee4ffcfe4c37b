package io.peregrine.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.backend.cpu.CpuBackend;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.dist.CommunicatorException;
import io.peregrine.engine.dist.ShmCommunicator;
import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.shard.ShardingPlan;
import io.peregrine.engine.testing.TestData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Rank 0 drives a sharded model through the {@link LanguageModel} interface the engine uses, and a worker in another
 * JVM follows the broadcast steps: batched prefills of two sequences and decode steps give one rank's logits, the
 * worker stops when rank 0 closes, and a worker that dies fails rank 0's next step with the rank and pid named.
 */
class ShardedModelTest {
    private static final long SLOT = 1 << 16;
    private static final int BLOCK = 16;

    private static Checkpoint ck;
    private static CpuBackend oneBackend;
    private static KimiTextModel one;

    @TempDir
    Path dir;

    @BeforeAll
    static void load() {
        ck = Checkpoint.open(TestData.tinyCheckpoint());
        oneBackend = new CpuBackend(1);
        one = KimiTextModel.load(ck, oneBackend);
    }

    @AfterAll
    static void close() {
        oneBackend.close();
        ck.close();
    }

    @Test
    void aWorkerFollowsRankZeroStepByStepAndStopsWhenItCloses() throws Exception {
        Process worker = worker(1, 2);
        try (CpuBackend backend = new CpuBackend(1);
             ShmCommunicator comm = ShmCommunicator.open(dir.resolve("group"), 0, 2, SLOT, Duration.ofSeconds(60))) {
            KimiTextModel rank0 = KimiTextModel.load(ck, backend,
                    TextShard.of(new ShardingPlan(ck.config(), 2, true), 0), comm, p -> { });
            int[] a = GoldenCases.named("p2_len40").prompt();
            int[] b = GoldenCases.named("p1_len7").prompt();
            int[] tableA = {5, 3, 1, 0};
            int[] tableB = {4, 2};
            int steps;
            try (ShardedModel sharded = new ShardedModel(rank0, comm)) {
                LanguageModel lm = sharded;
                LatentCache cache = lm.newCache(6, BLOCK);
                LatentCache oneCache = one.newCache(6, BLOCK);
                steps = 0;
                List<SequenceSlice> prefill = List.of(new SequenceSlice(a, 0, tableA, true),
                        new SequenceSlice(b, 0, tableB, false));
                List<float[][]> first = lm.forward(prefill, cache);
                compare(one.forward(prefill, oneCache), first, "prefill");
                steps++;
                int nextA = Logits.argmax(last(first.get(0)));
                int nextB = Logits.argmax(last(first.get(1)));
                assertEquals(GoldenCases.named("p2_len40").greedy()[0], nextA, "p2_len40 greedy id 0");
                assertEquals(GoldenCases.named("p1_len7").greedy()[0], nextB, "p1_len7 greedy id 0");
                for (int s = 0; s < 3; s++) {
                    List<SequenceSlice> decode = List.of(new SequenceSlice(new int[] {nextA}, a.length + s, tableA, false),
                            new SequenceSlice(new int[] {nextB}, b.length + s, tableB, false));
                    List<float[][]> expected = one.forward(decode, oneCache);
                    List<float[][]> actual = lm.forward(decode, cache);
                    compare(expected, actual, "decode " + s);
                    steps++;
                    nextA = Logits.argmax(last(actual.get(0)));
                    nextB = Logits.argmax(last(actual.get(1)));
                    assertEquals(GoldenCases.named("p2_len40").greedy()[s + 1], nextA, "p2_len40 greedy id " + (s + 1));
                    assertEquals(GoldenCases.named("p1_len7").greedy()[s + 1], nextB, "p1_len7 greedy id " + (s + 1));
                }
            }
            assertTrue(worker.waitFor(30, TimeUnit.SECONDS), "the worker stops when rank 0 closes");
            assertEquals(0, worker.exitValue(), Files.readString(errors(1)));
            assertEquals("steps=" + steps, Files.readString(dir.resolve("result1")).strip());
        } finally {
            worker.destroyForcibly();
        }
    }

    @Test
    void aDeadWorkerFailsRankZerosNextStepWithinSeconds() throws Exception {
        Process worker = worker(1, 2);
        try (CpuBackend backend = new CpuBackend(1);
             ShmCommunicator comm = ShmCommunicator.open(dir.resolve("group"), 0, 2, SLOT, Duration.ofSeconds(60))) {
            KimiTextModel rank0 = KimiTextModel.load(ck, backend,
                    TextShard.of(new ShardingPlan(ck.config(), 2, true), 0), comm, p -> { });
            ShardedModel sharded = new ShardedModel(rank0, comm);
            LatentCache cache = sharded.newCache(2, BLOCK);
            int[] table = {1, 0};
            sharded.forward(List.of(new SequenceSlice(new int[] {1, 2, 3}, 0, table, false)), cache);
            worker.destroyForcibly();
            assertTrue(worker.waitFor(10, TimeUnit.SECONDS));
            CommunicatorException e = assertTimeoutPreemptively(Duration.ofSeconds(10), () -> assertThrows(
                    CommunicatorException.class,
                    () -> sharded.forward(List.of(new SequenceSlice(new int[] {4}, 3, table, false)), cache)));
            assertTrue(e.getMessage().startsWith("rank 1 (pid " + worker.pid() + ") died while rank 0 waited in"),
                    e.getMessage());
        } finally {
            worker.destroyForcibly();
        }
    }

    private static float[] last(float[][] rows) {
        return rows[rows.length - 1];
    }

    private static void compare(List<float[][]> expected, List<float[][]> actual, String what) {
        assertEquals(expected.size(), actual.size());
        for (int s = 0; s < expected.size(); s++) {
            assertEquals(expected.get(s).length, actual.get(s).length, what + " slice " + s + " rows");
            for (int r = 0; r < expected.get(s).length; r++) {
                Logits.assertClose(expected.get(s)[r], actual.get(s)[r], what + " slice " + s + " row " + r);
            }
        }
    }

    private Process worker(int rank, int size) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return new ProcessBuilder(java, "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-XX:+UseSerialGC", "-Xmx256m", "-cp", System.getProperty("java.class.path"),
                ShardWorkerMain.class.getName(), dir.resolve("group").toString(), String.valueOf(rank),
                String.valueOf(size), String.valueOf(SLOT), dir.resolve("result" + rank).toString())
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(errors(rank).toFile()).start();
    }

    private Path errors(int rank) {
        return dir.resolve("rank" + rank + ".err");
    }
}
