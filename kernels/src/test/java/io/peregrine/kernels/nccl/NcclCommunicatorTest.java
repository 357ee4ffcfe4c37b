package io.peregrine.kernels.nccl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.dist.CommunicatorException;
import io.peregrine.engine.dist.ShmCommunicator;
import io.peregrine.engine.dist.TcpCommunicator;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The NCCL communicator's call sequence against a recording fake: which NCCL function, with which arguments. */
class NcclCommunicatorTest {
    @TempDir
    Path dir;

    /** A stream that counts its synchronisations. */
    static final class CountingStream implements DeviceStream {
        int syncs;

        @Override
        public MemorySegment handle() {
            return MemorySegment.NULL;
        }

        @Override
        public void synchronize() {
            syncs++;
        }
    }

    @Test
    void everyCollectiveIsOneNcclCallWithItsArguments() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment mem = a.allocate(4096, 64);
            RecordingNccl nccl = new RecordingNccl(mem.address());
            MemorySegment id = a.allocate(NcclApi.UNIQUE_ID_BYTES);
            nccl.getUniqueId(id);
            CountingStream stream = new CountingStream();
            NcclCommunicator c = NcclCommunicator.open(nccl, 1, 4, id, stream, mem.asSlice(4092, 4));
            c.allReduceSum(mem, 100);
            c.allGather(mem.asSlice(0, 400), 100, mem.asSlice(400, 1600));
            c.reduceScatterSum(mem.asSlice(0, 1600), mem.asSlice(1600, 400), 100);
            c.broadcast(mem.asSlice(8), 10, 3);
            c.barrier();
            c.close();
            c.close();
            assertEquals(List.of(
                    "getUniqueId()",
                    "commInitRank(4, id[1]=8, 1)",
                    "allReduce(+0, +0, 100, 7, 0, c0ffee, null)",
                    "allGather(+0, +400, 100, 7)",
                    "reduceScatter(+0, +1600, 100, 7, 0)",
                    "broadcast(+8, +8, 10, 7, root 3)",
                    "allReduce(+4092, +4092, 1, 7, 0, c0ffee, null)",
                    "commDestroy(c0ffee)"), nccl.calls);
            assertEquals(1, stream.syncs, "only the barrier waits for the stream");
            assertThrows(IllegalStateException.class, () -> c.allReduceSum(mem, 1));
        }
    }

    /** The supervisor's abort (a peer died): ncclCommAbort once, then nothing else reaches NCCL, not even a destroy. */
    @Test
    void anAbortedCommunicatorIsAbortedOnceAndNeitherRunsNorDestroys() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment mem = a.allocate(4096, 64);
            RecordingNccl nccl = new RecordingNccl(mem.address());
            MemorySegment id = a.allocate(NcclApi.UNIQUE_ID_BYTES);
            NcclCommunicator c = NcclCommunicator.open(nccl, 0, 2, id, new CountingStream(), mem.asSlice(4092, 4));
            c.abort();
            c.abort();
            assertThrows(IllegalStateException.class, () -> c.allReduceSum(mem, 1));
            c.close();
            assertEquals(List.of("commInitRank(2, id[1]=0, 0)", "commAbort(c0ffee)"), nccl.calls);
        }
    }

    @Test
    void allToAllIsOneGroupOfSendsAndReceivesWithoutTheEmptyParts() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment send = a.allocate(4096, 64);
            MemorySegment recv = send.asSlice(2048);
            RecordingNccl nccl = new RecordingNccl(send.address());
            NcclCommunicator c = NcclCommunicator.open(nccl, 0, 3, a.allocate(NcclApi.UNIQUE_ID_BYTES),
                    new CountingStream(), send.asSlice(4000, 4));
            c.allToAll(send, new long[] {2, 0, 3}, recv, new long[] {0, 4, 1});
            assertEquals(List.of(
                    "commInitRank(3, id[1]=0, 0)",
                    "groupStart()",
                    "send(+0, 2, to 0)",
                    "recv(+2048, 4, from 1)",
                    "send(+8, 3, to 2)",
                    "recv(+2064, 1, from 2)",
                    "groupEnd()"), nccl.calls);
            assertThrows(IllegalArgumentException.class,
                    () -> c.allToAll(send, new long[] {2000, 0, 0}, recv, new long[] {0, 0, 0}));
        }
    }

    @Test
    void aFailedCallNamesTheCallAndNcclsReason() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment mem = a.allocate(1024, 64);
            RecordingNccl nccl = new RecordingNccl(mem.address());
            NcclCommunicator c = NcclCommunicator.open(nccl, 0, 2, a.allocate(NcclApi.UNIQUE_ID_BYTES),
                    new CountingStream(), mem.asSlice(0, 4));
            nccl.failOn = "allReduce";
            nccl.failWith = 5;
            CommunicatorException e = assertThrows(CommunicatorException.class, () -> c.allReduceSum(mem, 16));
            assertEquals("ncclAllReduce failed: invalid usage (run with NCCL_DEBUG=WARN for details) (ncclResult_t 5)",
                    e.getMessage());
            nccl.failOn = "commInitRank";
            CommunicatorException init = assertThrows(CommunicatorException.class, () -> NcclCommunicator.open(nccl, 1,
                    2, a.allocate(NcclApi.UNIQUE_ID_BYTES), new CountingStream(), mem.asSlice(0, 4)));
            assertTrue(init.getMessage().startsWith("ncclCommInitRank(rank 1 of 2) failed"), init.getMessage());
        }
    }

    @Test
    void aMissingLibraryIsOneStartupErrorSayingWhatToInstall() {
        NcclUnavailableException e = assertThrows(NcclUnavailableException.class,
                () -> FfmNccl.load("libnccl-peregrine-absent.so.2"));
        assertTrue(e.getMessage().startsWith("NCCL is not available: cannot load libnccl-peregrine-absent.so.2"),
                e.getMessage());
        assertTrue(e.getMessage().contains("apt install libnccl2") && e.getMessage().contains("PEREGRINE_NCCL_LIBRARY"),
                e.getMessage());
        // A library that loads but is not NCCL: the first symbol missing is named.
        NcclUnavailableException notNccl = assertThrows(NcclUnavailableException.class, () -> FfmNccl.load("libc.so.6"));
        assertTrue(notNccl.getMessage().startsWith("libc.so.6 has no ncclGetVersion"), notNccl.getMessage());
    }

    /** Rank 0's id reaches every rank of a real shared-memory group; only rank 0 asks NCCL for one. */
    @Test
    void theUniqueIdTravelsOverTheHostGroup() throws Exception {
        Path file = dir.resolve("bootstrap");
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            List<Future<byte[]>> ids = new ArrayList<>();
            List<RecordingNccl> fakes = new ArrayList<>();
            for (int r = 0; r < 3; r++) {
                int rank = r;
                RecordingNccl nccl = new RecordingNccl(0);
                fakes.add(nccl);
                ids.add(pool.submit(() -> {
                    try (ShmCommunicator host = ShmCommunicator.open(file, rank, 3, 1024, Duration.ofSeconds(30));
                         Arena a = Arena.ofConfined()) {
                        return NcclBootstrap.uniqueId(nccl, host, a).toArray(ValueLayout.JAVA_BYTE);
                    }
                }));
            }
            byte[] expected = new byte[NcclApi.UNIQUE_ID_BYTES];
            for (int i = 0; i < expected.length; i++) {
                expected[i] = (byte) (i * 7 + 1);
            }
            for (Future<byte[]> f : ids) {
                assertArrayEquals(expected, f.get(30, TimeUnit.SECONDS));
            }
            assertEquals(List.of("getUniqueId()"), fakes.get(0).calls);
            assertEquals(List.of(), fakes.get(1).calls);
        } finally {
            pool.shutdownNow();
        }
    }

    /** Across nodes: rank 0's id reaches the other nodes' ranks through the TCP rendezvous at the master port. */
    @Test
    void theUniqueIdTravelsThroughTheMasterPortAcrossNodes() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try (TcpCommunicator.Listener listener = TcpCommunicator.listen(0)) {
            java.net.InetSocketAddress master = new java.net.InetSocketAddress("127.0.0.1", listener.port());
            List<Future<byte[]>> ids = new ArrayList<>();
            for (int r = 0; r < 3; r++) {
                int rank = r;
                RecordingNccl nccl = new RecordingNccl(0);
                ids.add(pool.submit(() -> {
                    try (TcpCommunicator host = rank == 0
                            ? listener.accept(3, Duration.ofSeconds(30), Duration.ofSeconds(30))
                            : TcpCommunicator.open(master, rank, 3, Duration.ofSeconds(30), Duration.ofSeconds(30));
                         Arena a = Arena.ofConfined()) {
                        return NcclBootstrap.uniqueId(nccl, host, a).toArray(ValueLayout.JAVA_BYTE);
                    }
                }));
            }
            byte[] expected = new byte[NcclApi.UNIQUE_ID_BYTES];
            for (int i = 0; i < expected.length; i++) {
                expected[i] = (byte) (i * 7 + 1);
            }
            for (Future<byte[]> f : ids) {
                assertArrayEquals(expected, f.get(30, TimeUnit.SECONDS));
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
