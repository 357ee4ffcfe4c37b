package io.peregrine.engine.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shared-memory communicator against a scalar reference: in threads of this JVM for many group sizes (the
 * same mapped-file protocol, cheaply), then with real processes, a peer that dies and a peer that goes silent.
 * Slots are small (256 or 64 floats), so most collectives take several steps and both banks.
 */
class ShmCommunicatorTest {
    static final long SLOT = 1024;

    @TempDir
    Path dir;

    /** Runs {@code body} on ranks 0..size-1, each in its own thread with its own mapping; returns their results. */
    private <T> List<T> group(int size, long slotBytes, Duration timeout, Function<Communicator, T> body)
            throws Exception {
        Path file = dir.resolve("group-" + System.nanoTime());
        ExecutorService pool = Executors.newFixedThreadPool(size);
        try {
            List<Future<T>> futures = new ArrayList<>();
            for (int r = 0; r < size; r++) {
                int rank = r;
                futures.add(pool.submit(() -> {
                    try (ShmCommunicator c = ShmCommunicator.open(file, rank, size, slotBytes, timeout)) {
                        return body.apply(c);
                    }
                }));
            }
            List<T> out = new ArrayList<>();
            for (Future<T> f : futures) {
                out.add(f.get(60, TimeUnit.SECONDS));
            }
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void everyCollectiveMatchesTheScalarReferenceForGroupsOfOneToFour() throws Exception {
        for (int size = 1; size <= 4; size++) {
            int n = size;
            group(size, SLOT, Duration.ofSeconds(30), c -> {
                CollectiveScript.run(c, 1000 + n, 30, 700);
                return null;
            });
        }
        group(3, 256, Duration.ofSeconds(30), c -> {
            CollectiveScript.run(c, 77, 40, 200);
            return null;
        });
    }

    @Test
    void singleRankIsTheScriptOfAGroupOfOne() {
        CollectiveScript.run(new SingleRank(), 5, 60, 700);
    }

    /** Real processes: two child JVMs on the test class path and this one as rank 0. */
    @Test
    void everyCollectiveMatchesTheScalarReferenceAcrossProcesses() throws Exception {
        Path file = dir.resolve("procs");
        int size = 3;
        List<Process> children = new ArrayList<>();
        for (int r = 1; r < size; r++) {
            children.add(child(file, r, size, 9, 80, "script"));
        }
        try (ShmCommunicator c = ShmCommunicator.open(file, 0, size, SLOT, Duration.ofSeconds(30))) {
            CollectiveScript.run(c, 9, 80, 700);
        }
        for (Process p : children) {
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "child finished");
            assertEquals(0, p.exitValue(), new String(p.getErrorStream().readAllBytes()));
        }
        assertTrue(Files.notExists(file), "rank 0 removes the file once the group has joined");
    }

    @Test
    void aDeadPeerFailsTheWaitingRankWithinSeconds() throws Exception {
        Path file = dir.resolve("dead");
        Process child = child(file, 1, 2, 0, 0, "die");
        try (ShmCommunicator c = ShmCommunicator.open(file, 0, 2, SLOT, Duration.ofSeconds(60))) {
            c.barrier();
            long pid = child.pid();
            CommunicatorException e = assertTimeoutPreemptively(Duration.ofSeconds(10),
                    () -> assertThrows(CommunicatorException.class,
                            () -> c.allReduceSum(MemorySegment.ofArray(new float[1000]), 1000)));
            assertEquals("rank 1 (pid " + pid + ") died while rank 0 waited in all_reduce (step 3)", e.getMessage());
            CommunicatorException again = assertThrows(CommunicatorException.class, c::barrier);
            assertTrue(again.getMessage().startsWith("the group failed earlier: rank 1 (pid"), again.getMessage());
        } finally {
            child.destroyForcibly();
        }
    }

    @Test
    void aSilentPeerTimesOutAndTheGroupFailsEverywhere() throws Exception {
        Path file = dir.resolve("silent");
        CountDownLatch gaveUp = new CountDownLatch(1);
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            Future<String> peer = pool.submit(() -> {
                try (ShmCommunicator c = ShmCommunicator.open(file, 1, 2, SLOT, Duration.ofSeconds(30))) {
                    assertTrue(gaveUp.await(20, TimeUnit.SECONDS));
                    return assertThrows(CommunicatorException.class, c::barrier).getMessage();
                }
            });
            try (ShmCommunicator c = ShmCommunicator.open(file, 0, 2, SLOT, Duration.ofMillis(300))) {
                long t0 = System.nanoTime();
                CommunicatorException e = assertThrows(CommunicatorException.class, c::barrier);
                assertTrue(e.getMessage().startsWith("rank 1 did not answer within PT0.3S while rank 0 waited in barrier"),
                        e.getMessage());
                assertTrue(System.nanoTime() - t0 < 2_000_000_000L);
                gaveUp.countDown();
            }
            assertEquals("rank 0 aborted the group before rank 1 reached barrier (step 2)", peer.get(20, TimeUnit.SECONDS));
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aPeerThatClosesFailsTheOthersInsteadOfHangingThem() throws Exception {
        List<String> out = group(2, SLOT, Duration.ofSeconds(30), c -> {
            if (c.rank() == 1) {
                return "closed";
            }
            return assertThrows(CommunicatorException.class, c::barrier).getMessage();
        });
        assertTrue(out.get(0).startsWith("rank 1 left the group while rank 0 waited in barrier"), out.get(0));
    }

    /**
     * The sum is ((x0 + x1) + x2) + x3 on every rank: with 1e8, 1, -1e8, 1 that is 1 (the first 1 is lost to
     * rounding), where another order, such as ((x0 + x2) + x1) + x3, would give 2.
     */
    @Test
    void sumsInRankOrderSoEveryRankAndEveryRunGetsTheSameBits() throws Exception {
        float[] x = {1e8f, 1f, -1e8f, 1f};
        assertNotEquals(((x[0] + x[1]) + x[2]) + x[3], ((x[0] + x[2]) + x[1]) + x[3]);
        List<float[]> results = group(4, SLOT, Duration.ofSeconds(30), c -> {
            float[] buf = new float[700];
            buf[0] = x[c.rank()];
            for (int k = 1; k < buf.length; k++) {
                buf[k] = CollectiveScript.input(3, 0, c.rank(), k);
            }
            c.allReduceSum(MemorySegment.ofArray(buf), buf.length);
            return buf;
        });
        assertEquals(1f, results.get(0)[0]);
        for (float[] r : results) {
            assertArrayEquals(results.get(0), r);
        }
        List<float[]> again = group(4, SLOT, Duration.ofSeconds(30), c -> {
            float[] buf = new float[700];
            buf[0] = x[c.rank()];
            for (int k = 1; k < buf.length; k++) {
                buf[k] = CollectiveScript.input(3, 0, c.rank(), k);
            }
            c.allReduceSum(MemorySegment.ofArray(buf), buf.length);
            return buf;
        });
        assertArrayEquals(results.get(0), again.get(0));
    }

    @Test
    void mismatchedAllToAllCountsFailEveryRankWithTheSameMessage() throws Exception {
        List<String> out = group(2, SLOT, Duration.ofSeconds(30), c -> {
            long[] send = c.rank() == 0 ? new long[] {1, 5} : new long[] {0, 1};
            long[] recv = c.rank() == 0 ? new long[] {1, 0} : new long[] {4, 1};
            return assertThrows(IllegalArgumentException.class, () -> c.allToAll(MemorySegment.ofArray(new float[6]),
                    send, MemorySegment.ofArray(new float[6]), recv)).getMessage();
        });
        assertEquals("all-to-all counts disagree: rank 0 sends 5 elements to rank 1, which expects 4", out.get(0));
        assertEquals(out.get(0), out.get(1));
    }

    @Test
    void aStaleFileIsRefusedAndAWrongGroupIsNamed() throws Exception {
        Path stale = dir.resolve("stale");
        Files.writeString(stale, "left over");
        CommunicatorException e = assertThrows(CommunicatorException.class,
                () -> ShmCommunicator.open(stale, 0, 2, SLOT, Duration.ofSeconds(1)));
        assertTrue(e.getMessage().contains("already exists"), e.getMessage());
        CommunicatorException nobody = assertThrows(CommunicatorException.class,
                () -> ShmCommunicator.open(dir.resolve("nobody"), 1, 2, SLOT, Duration.ofMillis(200)));
        assertTrue(nobody.getMessage().startsWith("rank 0 did not create"), nobody.getMessage());
        // Rank 0 alone: its join times out and it takes its file with it, so the path can be used again.
        Path alone = dir.resolve("alone");
        CommunicatorException lonely = assertThrows(CommunicatorException.class,
                () -> ShmCommunicator.open(alone, 0, 2, SLOT, Duration.ofMillis(200)));
        assertTrue(lonely.getMessage().startsWith("rank 1 did not answer within PT0.2S while rank 0 waited in join"),
                lonely.getMessage());
        assertTrue(Files.notExists(alone));
        assertThrows(IllegalArgumentException.class, () -> ShmCommunicator.open(stale, 2, 2, SLOT, Duration.ofSeconds(1)));
    }

    private Process child(Path file, int rank, int size, long seed, int ops, String mode) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return new ProcessBuilder(java, "-XX:TieredStopAtLevel=1", "-Xmx64m", "-XX:+UseSerialGC",
                "-cp", System.getProperty("java.class.path"), ShmRankMain.class.getName(), file.toString(),
                String.valueOf(rank), String.valueOf(size), String.valueOf(SLOT), String.valueOf(seed),
                String.valueOf(ops), "700", mode)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    }
}
