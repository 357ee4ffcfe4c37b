package io.peregrine.server.wiring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.backend.Backend;
import io.peregrine.engine.backend.BackendProvider;
import io.peregrine.engine.backend.DeviceRanks;
import io.peregrine.engine.dist.Communicator;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The launcher's rank → GPU mapping and its start-up refusals, without a GPU. */
class RankDevicesTest {

    @Test
    void aRanksGpuIsItsLocalRankOnOneNodeAndAcrossNodes() {
        for (int r = 0; r < 8; r++) {
            assertEquals(r, RankDevices.ordinal(r, 8), "TP8 on one node: rank r on GPU r");
        }
        Parallel16 p = new Parallel16();
        // TP16 over two nodes of 8: node 1 runs ranks 8..15 on its GPUs 0..7
        for (int r = 8; r < 16; r++) {
            assertEquals(r - 8, RankDevices.ordinal(r, p.parallel.ranksPerNode()));
        }
        assertEquals(3, RankDevices.ordinal(3, 4));
        assertEquals(1, RankDevices.ordinal(5, 4), "rank 5 of TP8 over two nodes of 4");
        assertThrows(IllegalArgumentException.class, () -> RankDevices.ordinal(-1, 8));
    }

    /** TP16 over two nodes, as node 1 sees it. */
    private static final class Parallel16 {
        final RuntimeLoader.Parallel parallel = new RuntimeLoader.Parallel(16, false,
                new Nodes(2, 1, "10.0.0.1", Nodes.DEFAULT_PORT));
    }

    @Test
    void cudaVisibleDevicesRenumbersTheDevicesTheOrdinalOnlyNamesThePhysicalOne() {
        // the driver applies the variable itself: ordinal 1 is its second entry; the ordinal does not change
        assertEquals("cuda:1 (CUDA_VISIBLE_DEVICES entry 5)", new RankDevices("4,5").describe(1));
        assertEquals("cuda:0 (CUDA_VISIBLE_DEVICES entry GPU-8f2c)", new RankDevices(" GPU-8f2c , GPU-11aa").describe(0));
        assertEquals("cuda:3", new RankDevices(null).describe(3), "unset: the ordinal is the device");
    }

    @Test
    void fewerVisibleGpusThanRanksOnTheNodeIsRefusedWithTheCounts() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new RankDevices("0,1").requireDevices(8, 2));
        assertEquals("--tensor-parallel-size puts 8 ranks on this node, one GPU each, but 2 GPUs are visible "
                + "(CUDA_VISIBLE_DEVICES=0,1)", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new RankDevices(null).requireDevices(4, 1));
        assertEquals("--tensor-parallel-size puts 4 ranks on this node, one GPU each, but 1 GPU is visible",
                e.getMessage());
        new RankDevices(null).requireDevices(8, 8);
        new RankDevices("0,1,2,3").requireDevices(2, 4);
    }

    /** A device backend over a given number of visible devices, whose ranks are never opened here. */
    private record FakeGpus(int visible) implements DeviceRanks {
        public int visibleDevices() {
            return visible;
        }

        public Backend open(int ordinal) {
            throw new AssertionError("the launcher opens no device in these tests");
        }

        public Communicator collectives(Backend backend, Communicator host) {
            throw new AssertionError("the launcher joins no group in these tests");
        }
    }

    private record Provider(String name, DeviceRanks ranks) implements BackendProvider {
        public int priority() {
            return 0;
        }

        public Optional<String> unavailableReason() {
            return Optional.empty();
        }

        public Backend create() {
            throw new AssertionError();
        }

        @Override
        public DeviceRanks deviceRanks() {
            return ranks == null ? BackendProvider.super.deviceRanks() : ranks;
        }
    }

    @Test
    void theLauncherChecksTheDevicesBeforeAnyWorkerStarts() {
        RuntimeLoader.Parallel tp2 = new RuntimeLoader.Parallel(2, false);
        assertNull(RuntimeLoader.deviceRanks(new Provider("cpu", null), tp2, false),
                "the CPU's ranks meet over the host group alone");
        FakeGpus two = new FakeGpus(Integer.MAX_VALUE);
        assertEquals(two, RuntimeLoader.deviceRanks(new Provider("cuda", two), tp2, false));

        IllegalArgumentException few = assertThrows(IllegalArgumentException.class,
                () -> RuntimeLoader.deviceRanks(new Provider("cuda", new FakeGpus(0)), tp2, false));
        assertTrue(few.getMessage().contains("puts 2 ranks on this node, one GPU each, but 0 GPUs are visible"),
                few.getMessage());
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class,
                () -> RuntimeLoader.deviceRanks(new Provider("tpu", null), tp2, false));
        assertEquals("--tensor-parallel-size above 1: the tpu backend has no device ranks", none.getMessage());
        IllegalArgumentException invariant = assertThrows(IllegalArgumentException.class,
                () -> RuntimeLoader.deviceRanks(new Provider("cuda", two), tp2, true));
        assertTrue(invariant.getMessage().contains("no batch-invariant mode"), invariant.getMessage());
    }

    @Test
    void cudaWorkersAreToldTheirBackendAndTheRanksPerNode() {
        RuntimeLoader.Parallel twoNodes = new RuntimeLoader.Parallel(8, true, new Nodes(2, 0, "10.0.0.1", 29500));
        assertEquals(List.of("--threads", "1", "--backend", "cuda", "--ranks-per-node", "4", "--enable-expert-parallel"),
                RuntimeLoader.workerFlags(1, twoNodes, false, "cuda"));
        assertEquals(List.of("--threads", "2"), RuntimeLoader.workerFlags(2, new RuntimeLoader.Parallel(2, false),
                false, null), "CPU workers: as before");
    }
}
