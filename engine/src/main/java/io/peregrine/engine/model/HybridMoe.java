package io.peregrine.engine.model;

import io.peregrine.engine.backend.MoeRouter;
import io.peregrine.engine.backend.Activation;
import io.peregrine.engine.backend.Backend;
import io.peregrine.engine.backend.Indices;
import io.peregrine.engine.backend.LinearWeight;
import io.peregrine.engine.backend.Product;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.checkpoint.Int4Group32;
import io.peregrine.engine.config.TextConfig;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A MoE layer over two backends (issue 20, docs/hybrid.md): attention's output arrives on the primary; the router
 * runs there and its logits come to the host, which decides the routing (so the routing histogram is a counter
 * array here); the routed rows are gathered on the primary in expert order. Then each routed expert with rows runs
 * on one side:
 *
 * <ul>
 *   <li>the primary's own experts and the shared expert on the primary, on the engine thread;</li>
 *   <li>the host's experts on the host thread ({@link HostExperts}), meanwhile, over rows copied out;</li>
 *   <li>a host expert with many rows in this chunk, when the calibrated {@link ExpertStreaming} says so, streamed:
 *       its weights uploaded to the primary for this step, computed there, released.</li>
 * </ul>
 *
 * Every expert's outputs land in its rows of the primary's expert buffer, and the one weighted combine adds them in
 * expert order and the shared expert after, as on one backend: with two CPU backends the logits are the
 * one-backend model's bit for bit, whichever side computed an expert and however the two threads interleave.
 */
final class HybridMoe {
    private final TextConfig cfg;
    private final Backend primary;
    private final Checkpoint ck;
    private final ExpertPlacement placement;
    private final ExpertStreaming streaming;
    private final HybridStats stats;
    private final HostExperts host;
    private final MoeRouter router;
    private final MoeRouter.Scratch routing;
    private final String prefix;
    /** {@code counts[l][e]}: routed rows per expert since load (the routing histogram of a later {@code auto}). */
    private final long[][] counts;
    private final byte[] side;
    private final List<Product> products = new ArrayList<>();
    /** Streamed weights of this step, released after it. */
    private final List<LinearWeight> streamed = new ArrayList<>();
    private final LayerWeights.Dense[] streamedExperts;

    HybridMoe(TextConfig cfg, Backend primary, Backend hostBackend, Checkpoint ck, ExpertPlacement placement,
              ExpertStreaming streaming, int moeInter, HybridStats stats) {
        this.cfg = cfg;
        this.primary = primary;
        this.ck = ck;
        this.placement = placement;
        this.streaming = streaming;
        this.stats = stats;
        this.host = new HostExperts(primary, hostBackend, cfg, moeInter, stats);
        this.router = new MoeRouter(cfg.nRoutedExperts(), cfg.nGroup(), cfg.topkGroup(), cfg.numExpertsPerTok(),
                cfg.normTopkProb(), (float) cfg.routedScalingFactor());
        this.routing = router.scratch();
        this.prefix = (ck.has("language_model.model.embed_tokens.weight") ? "language_model." : "") + "model.layers.";
        this.counts = new long[cfg.numHiddenLayers()][cfg.nRoutedExperts()];
        this.side = new byte[cfg.nRoutedExperts()];
        this.streamedExperts = new LayerWeights.Dense[cfg.nRoutedExperts()];
    }

    /** Writes layer {@code layer}'s MoE output for the rows of {@code ws.xn} into {@code ws.delta}. */
    void forward(int layer, LayerWeights.Moe moe, Workspace ws, ForwardTrace trace, String tag) {
        long t0 = System.nanoTime();
        int n = ws.n;
        int experts = cfg.nRoutedExperts();
        int k = cfg.numExpertsPerTok();
        primary.matmul(moe.router(), ws.xn, ws.router);
        primary.copyOut(ws.router, ws.routerHost, 0);
        int assignments = route(layer, moe, ws, n, experts, k);
        if (tag != null) {
            float[] idx = new float[n * k];
            for (int i = 0; i < idx.length; i++) {
                idx[i] = ws.topIdx[i];
            }
            trace.record(tag + "router.topk_idx", idx, n, k);
            trace.record(tag + "router.topk_weight", Arrays.copyOf(ws.topWeight, n * k), n, k);
        }
        Indices rows = ws.expertRows(assignments);
        primary.copyIn(ws.expertRowsHost, 0, rows);
        Activation scale = ws.expertScale(assignments);
        primary.copyIn(ws.expertScaleHost, 0, scale);
        primary.gatherRows(ws.xn, rows, ws.expertIn(0, assignments));
        long t1 = System.nanoTime();
        stats.time(HybridStats.Part.ROUTE, t1 - t0);

        for (int e = 0; e < experts; e++) {
            int count = ws.expertCount[e];
            side[e] = !placement.onHost(layer, e) ? HostExperts.PRIMARY
                    : count > 0 && streaming.stream(count) ? HostExperts.STREAMED : HostExperts.HOST;
            if (count > 0 && side[e] != HostExperts.PRIMARY) {
                stats.decided(side[e] == HostExperts.STREAMED);
            }
        }
        host.send(ws, side);
        host.start(moe, ws, side);

        long t2 = System.nanoTime();
        stream(layer, ws);
        long t3 = System.nanoTime();
        stats.time(HybridStats.Part.STREAM, t3 - t2);
        products.clear();
        if (moe.shared() != null) {
            products.add(new Product(moe.shared().gate(), ws.xn, ws.sharedGate));
            products.add(new Product(moe.shared().up(), ws.xn, ws.sharedUp));
        }
        for (int e = 0; e < experts; e++) {
            int at = ws.expertFirst[e];
            int count = ws.expertCount[e];
            if (count > 0 && side[e] != HostExperts.HOST) {
                LayerWeights.Dense mlp = onPrimary(moe, e);
                products.add(new Product(mlp.gate(), ws.expertIn(at, count), ws.expertGate(at, count)));
                products.add(new Product(mlp.up(), ws.expertIn(at, count), ws.expertUp(at, count)));
            }
        }
        primary.matmulAll(products);
        products.clear();
        if (moe.shared() != null) {
            primary.siluMul(ws.sharedGate, ws.sharedUp, ws.sharedGate);
            products.add(new Product(moe.shared().down(), ws.sharedGate, ws.sharedOut));
        }
        for (int e = 0; e < experts; e++) {
            int at = ws.expertFirst[e];
            int count = ws.expertCount[e];
            if (count > 0 && side[e] != HostExperts.HOST) {
                Activation g = ws.expertGate(at, count);
                primary.siluMul(g, ws.expertUp(at, count), g);
                products.add(new Product(onPrimary(moe, e).down(), g, ws.expertOut(at, count)));
            }
        }
        primary.matmulAll(products);
        long t4 = System.nanoTime();
        stats.time(HybridStats.Part.PRIMARY, t4 - t3);
        host.finish(ws, t3, t4);
        release();

        long t5 = System.nanoTime();
        primary.zero(ws.delta);
        if (moe.shared() != null) {
            primary.add(ws.sharedOut, ws.delta);
        }
        if (assignments > 0) {
            primary.scatterAddScaled(ws.expertOut(0, assignments), rows, scale, ws.delta);
        }
        stats.time(HybridStats.Part.COMBINE, System.nanoTime() - t5);
    }

    /** The routing histogram so far: rows routed to each expert of each layer. */
    ExpertPlacement.RoutingHistogram histogram() {
        long[][] copy = new long[counts.length][];
        for (int l = 0; l < counts.length; l++) {
            copy[l] = counts[l].clone();
        }
        return new ExpertPlacement.RoutingHistogram(copy);
    }

    private LayerWeights.Dense onPrimary(LayerWeights.Moe moe, int e) {
        return side[e] == HostExperts.STREAMED ? streamedExperts[e] : moe.experts().get(e);
    }

    /** Uploads the weights of this step's streamed experts to the primary. */
    private void stream(int layer, Workspace ws) {
        for (int e = 0; e < side.length; e++) {
            if (side[e] == HostExperts.STREAMED && ws.expertCount[e] > 0) {
                String p = prefix + layer + ".mlp.experts." + e + ".";
                LayerWeights.Dense mlp = new LayerWeights.Dense(upload(p + "gate_proj"), upload(p + "up_proj"),
                        upload(p + "down_proj"));
                streamedExperts[e] = mlp;
            }
        }
    }

    private LinearWeight upload(String module) {
        LinearWeight w = primary.uploadTransient(Int4Group32.of(ck, module));
        streamed.add(w);
        return w;
    }

    private void release() {
        for (LinearWeight w : streamed) {
            primary.release(w);
        }
        streamed.clear();
        Arrays.fill(streamedExperts, null);
    }

    /**
     * Picks each token's experts from the copied-out router logits and lays the assignments out grouped by expert,
     * in token order within an expert (as {@code KimiTextModel}'s host routing), counting them per expert.
     */
    private int route(int layer, LayerWeights.Moe moe, Workspace ws, int n, int experts, int k) {
        Arrays.fill(ws.expertCount, 0);
        for (int t = 0; t < n; t++) {
            router.route(ws.routerHost, t * experts, moe.correctionBias(), ws.topIdx, ws.topWeight, t * k, routing);
            for (int j = 0; j < k; j++) {
                ws.expertCount[ws.topIdx[t * k + j]]++;
            }
        }
        long[] histogram = counts[layer];
        ws.expertFirst[0] = 0;
        for (int e = 0; e < experts; e++) {
            ws.expertFirst[e + 1] = ws.expertFirst[e] + ws.expertCount[e];
            histogram[e] += ws.expertCount[e];
        }
        int[] next = ws.expertFirst;
        for (int t = 0; t < n; t++) {
            for (int j = 0; j < k; j++) {
                int e = ws.topIdx[t * k + j];
                int at = next[e]++;
                ws.expertRowsHost[at] = t;
                ws.expertScaleHost[at] = ws.topWeight[t * k + j];
            }
        }
        for (int e = experts; e > 0; e--) {
            next[e] = next[e - 1];
        }
        next[0] = 0;
        return n * k;
    }
}
