package io.peregrine.engine.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.backend.Backend;
import io.peregrine.engine.backend.LinearWeight;
import io.peregrine.engine.backend.Product;
import io.peregrine.engine.backend.cpu.CpuBackend;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.config.TextConfig;
import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.testing.TestData;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Routed experts split across two backends (issue 20), with two CPU backends standing in for "GPU" and "host": under
 * every placement the logits are the one-backend model's bit for bit. They can be: both sides run the same CPU
 * kernels on the same expert rows (same row counts, so the same tiling), the host's outputs come back into the same
 * rows of the expert buffer, and the one weighted combine adds them in expert order as before. The steps are a
 * prefill, then a mixed batch (a decode next to a fresh prefill), then two decodes. Every weight each side multiplies
 * is recorded, so a placement that silently ran everything on the primary fails.
 */
class HybridExpertsTest {
    private static final Pattern EXPERT = Pattern.compile("layers\\.(\\d+)\\.mlp\\.experts\\.(\\d+)\\.");
    private static final int BLOCKS = 8;

    private static Checkpoint checkpoint;
    private static TextConfig cfg;
    private static List<List<float[][]>> reference;

    @BeforeAll
    static void referenceOnOneBackend() {
        checkpoint = Checkpoint.open(TestData.tinyCheckpoint());
        cfg = checkpoint.config().text();
        try (CpuBackend cpu = new CpuBackend(2)) {
            reference = steps(KimiTextModel.load(checkpoint, cpu));
        }
    }

    @AfterAll
    static void close() {
        checkpoint.close();
    }

    @Test
    void allExpertsOnThePrimaryRunNothingOnTheHost() {
        check(ExpertPlacement.primary(cfg));
    }

    @Test
    void allRoutedExpertsOnTheHost() {
        check(ExpertPlacement.host(cfg));
    }

    @Test
    void oddExpertsOnTheHostInterleaveTheCopies() {
        boolean[][] host = new boolean[cfg.numHiddenLayers()][];
        for (int l = 0; l < host.length; l++) {
            host[l] = new boolean[cfg.isMoeLayer(l) ? cfg.nRoutedExperts() : 0];
            for (int e = 1; e < host[l].length; e += 2) {
                host[l][e] = true;
            }
        }
        check(ExpertPlacement.of(cfg, host));
    }

    @Test
    void perLayerMixes() {
        int moeLayers = 0;
        boolean[][] host = new boolean[cfg.numHiddenLayers()][];
        for (int l = 0; l < host.length; l++) {
            host[l] = new boolean[cfg.isMoeLayer(l) ? cfg.nRoutedExperts() : 0];
            if (cfg.isMoeLayer(l)) {
                // the first MoE layer all on the host, the next a high half, the next none, ...
                int mix = moeLayers++ % 3;
                for (int e = 0; e < host[l].length; e++) {
                    host[l][e] = mix == 0 || (mix == 1 && e >= host[l].length / 2);
                }
            }
        }
        assertTrue(moeLayers >= 2, "the tiny checkpoint has " + moeLayers + " MoE layers");
        check(ExpertPlacement.of(cfg, host));
    }

    @Test
    void autoKeepsWhatFitsTheBudgetOnThePrimary() {
        ExpertPlacement.StoredBytes bytes = ExpertPlacement.StoredBytes.of(checkpoint, cfg);
        int first = firstMoeLayer();
        long three = bytes.expert()[first][0] + bytes.expert()[first][1] + bytes.expert()[first][2];
        ExpertPlacement auto = ExpertPlacement.auto(checkpoint, bytes.fixed() + three, null);
        assertEquals(ExpertPlacement.Mode.AUTO, auto.mode());
        for (int l = 0; l < cfg.numHiddenLayers(); l++) {
            for (int e = 0; e < (cfg.isMoeLayer(l) ? cfg.nRoutedExperts() : 0); e++) {
                assertEquals(!(l == first && e < 3), auto.onHost(l, e), "layer " + l + " expert " + e);
            }
        }
        check(auto);
    }

    @Test
    void autoWithAHistogramKeepsTheMostRoutedExpertsOnThePrimary() {
        ExpertPlacement.StoredBytes bytes = ExpertPlacement.StoredBytes.of(checkpoint, cfg);
        int last = cfg.numHiddenLayers() - 1;
        long[][] counts = new long[cfg.numHiddenLayers()][cfg.nRoutedExperts()];
        counts[last][5] = 90;
        counts[last][2] = 70;
        counts[firstMoeLayer()][7] = 50;
        long budget = bytes.fixed() + bytes.expert()[last][5] + bytes.expert()[last][2]
                + bytes.expert()[firstMoeLayer()][7];
        ExpertPlacement auto = ExpertPlacement.auto(checkpoint, budget,
                new ExpertPlacement.RoutingHistogram(counts));
        int onPrimary = 0;
        for (int l = 0; l < cfg.numHiddenLayers(); l++) {
            for (int e = 0; e < (cfg.isMoeLayer(l) ? cfg.nRoutedExperts() : 0); e++) {
                onPrimary += auto.onHost(l, e) ? 0 : 1;
            }
        }
        assertEquals(3, onPrimary);
        assertFalse(auto.onHost(last, 5));
        assertFalse(auto.onHost(last, 2));
        assertFalse(auto.onHost(firstMoeLayer(), 7));
        check(auto);
    }

    @Test
    void autoRefusesABudgetTheNonExpertWeightsDoNotFit() {
        long fixed = ExpertPlacement.StoredBytes.of(checkpoint, cfg).fixed();
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> ExpertPlacement.auto(checkpoint, fixed - 1, null));
        assertTrue(e.getMessage().contains("primary budget"), e.getMessage());
        assertTrue(ExpertPlacement.auto(checkpoint, fixed, null).host().stream()
                .mapToInt(java.util.BitSet::cardinality).sum() == moeLayers() * cfg.nRoutedExperts());
    }

    /**
     * With every routed expert on the host, a MoE layer's host rows are one contiguous range: one copy in and one
     * copy out per layer, of {@code tokens × k} rows each.
     */
    @Test
    void allOnTheHostCopiesOneRangeEachWayPerLayer() {
        try (Recording primary = new Recording(); Recording host = new Recording()) {
            KimiTextModel model = KimiTextModel.load(checkpoint, primary.backend, host.backend,
                    ExpertPlacement.host(cfg), p -> { });
            LatentCache cache = model.newCache(BLOCKS, TinyModel.BLOCK);
            int[] table = new int[BLOCKS];
            Arrays.setAll(table, i -> i);
            int tokens = 19;
            int[] prompt = new int[tokens];
            Arrays.setAll(prompt, i -> (i * 29 + 3) % cfg.vocabSize());
            host.copiedIn.clear();
            host.copiedOut.clear();
            model.forward(List.of(new SequenceSlice(prompt, 0, table, false)), cache);
            List<Integer> perLayer = java.util.Collections.nCopies(moeLayers(), tokens * cfg.numExpertsPerTok());
            assertEquals(perLayer, host.copiedIn, "rows into the host, one copy per MoE layer");
            assertEquals(perLayer, host.copiedOut, "rows back from the host, one copy per MoE layer");
        }
    }

    /**
     * The overlap: each layer's host rows are sent before the primary starts its shared expert, and the host computes
     * on its own thread while the primary runs its products. The primary's shared-expert down product waits until the
     * host has started that layer's gate/up batch: a model that ran the host after the primary (or the primary after
     * the host) would wait in vain here. Each layer's host outputs are back before the next layer starts.
     */
    @Test
    void theHostComputesWhileThePrimaryRunsItsProducts() {
        List<String> log = java.util.Collections.synchronizedList(new ArrayList<>());
        try (Recording primary = new Recording("primary", log); Recording host = new Recording("host", log)) {
            java.util.concurrent.Semaphore hostStarted = new java.util.concurrent.Semaphore(0);
            host.logged = first -> {
                if (first.contains("experts.") && first.contains("gate_proj")) {
                    hostStarted.release();
                }
            };
            primary.beforeBatch = first -> {
                if (first.contains("shared_experts.down_proj")) {
                    try {
                        assertTrue(hostStarted.tryAcquire(20, java.util.concurrent.TimeUnit.SECONDS),
                                "the host did not start its experts while the primary ran its products");
                    } catch (InterruptedException e) {
                        throw new AssertionError(e);
                    }
                }
            };
            KimiTextModel model = KimiTextModel.load(checkpoint, primary.backend, host.backend,
                    ExpertPlacement.host(cfg), p -> { });
            LatentCache cache = model.newCache(BLOCKS, TinyModel.BLOCK);
            int[] table = new int[BLOCKS];
            Arrays.setAll(table, i -> i);
            log.clear();
            model.forward(List.of(new SequenceSlice(new int[] {5, 6, 7}, 0, table, false)), cache);
            List<String> moe;
            synchronized (log) {
                moe = log.stream()
                        .filter(e -> e.startsWith("host:") || e.contains("shared_experts"))
                        .map(e -> e.replaceAll(":[^:]*layers\\.\\d+\\.mlp\\.", ":"))
                        .map(e -> e.replaceAll("experts\\.\\d+\\.", "experts.").replace(".weight", ""))
                        .toList();
            }
            // per layer: rows in before the primary's shared expert; the host's two batches before the next layer
            int at = 0;
            for (int l = 0; l < moeLayers(); l++) {
                assertEquals("host:copyIn", moe.get(at), "layer " + l + ": " + moe);
                List<String> layer = moe.subList(at, at + 5);
                assertEquals(1, layer.indexOf("primary:matmulAll:shared_experts.gate_proj") > 0 ? 1 : 0, moe.toString());
                assertTrue(layer.indexOf("host:matmulAll:experts.gate_proj")
                        < layer.indexOf("host:matmulAll:experts.down_proj"), moe.toString());
                assertTrue(layer.indexOf("host:matmulAll:experts.gate_proj")
                        < layer.indexOf("primary:matmulAll:shared_experts.down_proj"), moe.toString());
                at += 5;
            }
            assertEquals(moe.size(), at, moe.toString());
        }
    }

    @Test
    void theFlagParses() {
        assertEquals(ExpertPlacement.Mode.GPU, ExpertPlacement.Mode.parse("gpu"));
        assertEquals(ExpertPlacement.Mode.CPU, ExpertPlacement.Mode.parse("cpu"));
        assertEquals(ExpertPlacement.Mode.AUTO, ExpertPlacement.Mode.parse("auto"));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> ExpertPlacement.Mode.parse("GPU"));
    }

    /** Every host expert with rows streamed to the primary for the step: the same logits, nothing left on the host. */
    @Test
    void streamingEveryHostExpertToThePrimary() {
        HybridStats stats = check(ExpertPlacement.host(cfg), new ExpertStreaming(1, 0, 0, 0, 0, 1));
        assertTrue(stats.streamedExperts() > 0);
        assertEquals(0, stats.hostComputedExperts());
        assertEquals(0, stats.bytesToHost());
    }

    /**
     * A threshold of 4 rows per expert: the prefills' experts (~5 rows each) stream, the decodes' stay on the host, in
     * the same steps (the mixed batch): the same logits either way.
     */
    @Test
    void streamingOnlyTheExpertsWithManyRowsInTheChunk() {
        ExpertStreaming fromFour = new ExpertStreaming(0, 1, 0, 3.5, 0, 1);
        assertEquals(4, fromFour.threshold());
        HybridStats stats = check(ExpertPlacement.host(cfg), fromFour);
        assertTrue(stats.streamedExperts() > 0, "streamed " + stats.streamedExperts());
        assertTrue(stats.hostComputedExperts() > 0, "kept " + stats.hostComputedExperts());
    }

    /**
     * With every expert on the host: each MoE layer step copies {@code tokens × k} rows of {@code hidden} floats each
     * way, and the routing histogram counts {@code tokens × k} rows per MoE layer; the parts are timed.
     */
    @Test
    void theStatsCountTheCopiesAndTheHistogramTheRows() {
        try (CpuBackend primary = new CpuBackend(1); CpuBackend host = new CpuBackend(1)) {
            KimiTextModel model = KimiTextModel.load(checkpoint, primary, host, ExpertPlacement.host(cfg), p -> { });
            steps(model);
            int tokens = 21 + (1 + 13) + 2 + 2;
            long rows = (long) tokens * cfg.numExpertsPerTok();
            HybridStats stats = model.hybridStats();
            assertEquals(4L * moeLayers(), stats.layerSteps());
            assertEquals(rows * moeLayers(), stats.hostRows());
            assertEquals(4L * cfg.hiddenSize() * rows * moeLayers(), stats.bytesToHost());
            assertEquals(stats.bytesToHost(), stats.bytesToPrimary());
            for (HybridStats.Part part : List.of(HybridStats.Part.COPY_OUT, HybridStats.Part.HOST_EXPERTS,
                    HybridStats.Part.PRIMARY, HybridStats.Part.COMBINE)) {
                assertTrue(stats.nanos(part) > 0, part.name());
            }
            long[][] counts = model.routingHistogram().counts();
            for (int l = 0; l < cfg.numHiddenLayers(); l++) {
                assertEquals(cfg.isMoeLayer(l) ? rows : 0, Arrays.stream(counts[l]).sum(), "layer " + l);
            }
        }
    }

    /** Runs the steps under {@code placement} and checks the logits and which side multiplied which expert. */
    private static void check(ExpertPlacement placement) {
        check(placement, ExpertStreaming.NEVER);
    }

    /**
     * As above, streaming host experts as {@code streaming} decides: a streamed expert runs on the primary, so then
     * the primary may multiply host experts and the host need not run.
     */
    private static HybridStats check(ExpertPlacement placement, ExpertStreaming streaming) {
        boolean streams = streaming != ExpertStreaming.NEVER;
        try (Recording primary = new Recording(); Recording host = new Recording()) {
            KimiTextModel model = KimiTextModel.load(checkpoint, primary.backend, host.backend, placement, streaming,
                    p -> { });
            List<List<float[][]>> got = steps(model);
            for (int s = 0; s < reference.size(); s++) {
                for (int q = 0; q < reference.get(s).size(); q++) {
                    float[][] want = reference.get(s).get(q);
                    for (int r = 0; r < want.length; r++) {
                        assertArrayEquals(want[r], got.get(s).get(q)[r], "step " + s + ", sequence " + q + ", row " + r);
                    }
                }
            }
            for (String w : primary.weights) {
                int[] le = expert(w);
                assertTrue(streams || le == null || !placement.onHost(le[0], le[1]), "the primary ran host expert " + w);
            }
            boolean hostRan = false;
            for (String w : host.weights) {
                int[] le = expert(w);
                assertTrue(le != null && placement.onHost(le[0], le[1]), "the host ran " + w);
                hostRan = true;
            }
            HybridStats stats = model.hybridStats();
            assertEquals(placement.usesHost() && stats.hostComputedExperts() > 0, hostRan, "host experts ran on the host");
            assertEquals(streams ? stats.streamedExperts() > 0 : placement.usesHost(), hostRan || streams && stats.streamedExperts() > 0);
            return stats;
        }
    }

    /** A prefill; a decode beside a fresh prefill; two decodes. Every row's logits. */
    private static List<List<float[][]>> steps(KimiTextModel model) {
        LatentCache cache = model.newCache(2 * BLOCKS, TinyModel.BLOCK);
        int[] a = new int[BLOCKS];
        int[] b = new int[BLOCKS];
        Arrays.setAll(a, i -> i);
        Arrays.setAll(b, i -> BLOCKS + i);
        int vocab = cfg.vocabSize();
        int[] promptA = new int[21];
        int[] promptB = new int[13];
        Arrays.setAll(promptA, i -> (i * 37 + 11) % vocab);
        Arrays.setAll(promptB, i -> (i * 53 + 5) % vocab);
        List<List<float[][]>> out = new ArrayList<>();
        out.add(model.forward(List.of(new SequenceSlice(promptA, 0, a, true)), cache));
        out.add(model.forward(List.of(new SequenceSlice(new int[] {7}, promptA.length, a, true),
                new SequenceSlice(promptB, 0, b, true)), cache));
        out.add(model.forward(List.of(new SequenceSlice(new int[] {9}, promptA.length + 1, a, true),
                new SequenceSlice(new int[] {3}, promptB.length, b, true)), cache));
        out.add(model.forward(List.of(new SequenceSlice(new int[] {4}, promptA.length + 2, a, true),
                new SequenceSlice(new int[] {8}, promptB.length + 1, b, true)), cache));
        return out;
    }

    private static int[] expert(String weight) {
        Matcher m = EXPERT.matcher(weight);
        return m.find() ? new int[] {Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2))} : null;
    }

    private static int firstMoeLayer() {
        for (int l = 0; l < cfg.numHiddenLayers(); l++) {
            if (cfg.isMoeLayer(l)) {
                return l;
            }
        }
        throw new AssertionError("no MoE layer");
    }

    private static int moeLayers() {
        int n = 0;
        for (int l = 0; l < cfg.numHiddenLayers(); l++) {
            n += cfg.isMoeLayer(l) ? 1 : 0;
        }
        return n;
    }

    /** A CPU backend that records the name of every weight it multiplies. */
    private static final class Recording implements InvocationHandler, AutoCloseable {
        final CpuBackend cpu = new CpuBackend(2);
        final Backend backend = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(),
                new Class<?>[] {Backend.class}, this);
        final List<String> weights = new ArrayList<>();
        /** Called with a product batch's first weight name before it runs. */
        java.util.function.Consumer<String> beforeBatch = w -> { };
        /** Called with a product batch's first weight name once it is logged, before it runs. */
        java.util.function.Consumer<String> logged = w -> { };
        /** {@code side:method[:first weight]} of every product batch and activation copy, shared by both sides. */
        final List<String> log;
        final String side;

        Recording() {
            this("", java.util.Collections.synchronizedList(new ArrayList<>()));
        }

        Recording(String side, List<String> log) {
            this.side = side;
            this.log = log;
        }

        /** Rows of each activation copy from and to the host arrays. */
        final List<Integer> copiedIn = new ArrayList<>();
        final List<Integer> copiedOut = new ArrayList<>();

        @Override
        @SuppressWarnings("unchecked")
        public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
            if (method.getName().equals("matmulAll")) {
                List<Product> batch = (List<Product>) args[0];
                String first = batch.isEmpty() ? "" : batch.getFirst().w().name();
                beforeBatch.accept(first);
                log.add(side + ":matmulAll:" + first);
                logged.accept(first);
                for (Product p : batch) {
                    weights.add(p.w().name());
                }
            } else if (method.getName().startsWith("matmul")) {
                weights.add(((LinearWeight) args[0]).name());
            } else if (method.getName().equals("copyIn") && args[2] instanceof io.peregrine.engine.backend.Activation a) {
                copiedIn.add(a.rows());
                log.add(side + ":copyIn");
            } else if (method.getName().equals("copyOut")) {
                copiedOut.add(((io.peregrine.engine.backend.Activation) args[0]).rows());
            }
            try {
                return method.invoke(cpu, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        }

        @Override
        public void close() {
            cpu.close();
        }
    }
}
