package io.peregrine.engine.model;

import io.peregrine.engine.backend.Activation;
import io.peregrine.engine.backend.Backend;
import io.peregrine.engine.backend.Product;
import io.peregrine.engine.config.TextConfig;
import java.util.ArrayList;
import java.util.List;

/**
 * The routed experts a layer keeps on the host backend ({@link ExpertPlacement}), run for the rows the router sent
 * them. Their gathered input rows leave the primary's expert buffer through one host staging array (on a GPU: the
 * pinned buffer of the device-to-host copy), the host computes them in the same layout (same row offsets, same
 * products as the primary would run), and their outputs go back into the primary's expert buffer at the same rows,
 * so the caller's one weighted combine adds every expert in expert order, exactly as on one backend. Experts whose
 * rows are adjacent travel as one copy. Buffers are per batch-size bucket, allocated once.
 *
 * <p>A layer is two calls around the primary's products: {@link #send} before they are queued, {@link #compute}
 * after. On a device, whose products are queued and return at once, the host then computes its experts while the
 * device runs the shared expert and its own experts (the overlap of issue 20, with no thread of its own); the copy
 * back is ordered after them on the device's stream. On a CPU primary the two sides simply take turns.
 */
final class HostExperts {
    private final Backend host;
    private final Backend primary;
    private final TextConfig cfg;
    private final int moeInter;
    private final Buffers[] buckets = new Buffers[32];
    private final List<Product> products = new ArrayList<>();
    /** What {@link #send} left for {@link #compute}: the bucket's buffers and how many row ranges they hold. */
    private Buffers sent;
    private int runs;

    HostExperts(Backend primary, Backend host, TextConfig cfg, int moeInter) {
        this.primary = primary;
        this.host = host;
        this.cfg = cfg;
        this.moeInter = moeInter;
    }

    /**
     * Copies the rows of {@code ws.expertIn} that layer {@code layer}'s host experts in {@code [firstExpert, endExpert)}
     * were routed to into the host's buffer, at the same rows.
     */
    void send(int layer, ExpertPlacement placement, Workspace ws, int firstExpert, int endExpert) {
        Buffers b = buffers(ws.capacity());
        sent = b;
        runs = 0;
        for (int e = firstExpert; e < endExpert; e++) {
            int count = ws.expertCount[e];
            if (count == 0 || !placement.onHost(layer, e)) {
                continue;
            }
            int at = ws.expertFirst[e];
            if (runs > 0 && b.runStart[runs - 1] + b.runLength[runs - 1] == at) {
                b.runLength[runs - 1] += count;
            } else {
                b.runStart[runs] = at;
                b.runLength[runs++] = count;
            }
        }
        int d = cfg.hiddenSize();
        for (int r = 0; r < runs; r++) {
            int at = b.runStart[r];
            int count = b.runLength[r];
            primary.copyOut(ws.expertIn(at, count), b.staging, at * d);
            host.copyIn(b.staging, at * d, b.in.rows(at, count));
        }
    }

    /**
     * Runs the host experts over the rows {@link #send} copied (same layer, same routing) and writes their outputs
     * into their rows of {@code ws.expertOut}.
     */
    void compute(int layer, LayerWeights.Moe moe, ExpertPlacement placement, Workspace ws, int firstExpert,
                 int endExpert) {
        if (runs == 0) {
            return;
        }
        Buffers b = sent;
        products.clear();
        for (int e = firstExpert; e < endExpert; e++) {
            int count = ws.expertCount[e];
            if (count > 0 && placement.onHost(layer, e)) {
                int at = ws.expertFirst[e];
                LayerWeights.Dense mlp = moe.experts().get(e - firstExpert);
                products.add(new Product(mlp.gate(), b.in.rows(at, count), b.gate.rows(at, count)));
                products.add(new Product(mlp.up(), b.in.rows(at, count), b.up.rows(at, count)));
            }
        }
        host.matmulAll(products);
        products.clear();
        for (int e = firstExpert; e < endExpert; e++) {
            int count = ws.expertCount[e];
            if (count > 0 && placement.onHost(layer, e)) {
                int at = ws.expertFirst[e];
                Activation g = b.gate.rows(at, count);
                host.siluMul(g, b.up.rows(at, count), g);
                products.add(new Product(moe.experts().get(e - firstExpert).down(), g, b.out.rows(at, count)));
            }
        }
        host.matmulAll(products);

        int d = cfg.hiddenSize();
        for (int r = 0; r < runs; r++) {
            int at = b.runStart[r];
            int count = b.runLength[r];
            host.copyOut(b.out.rows(at, count), b.staging, at * d);
            primary.copyIn(b.staging, at * d, ws.expertOut(at, count));
        }
        runs = 0;
    }

    private Buffers buffers(int capacity) {
        int bucket = Integer.numberOfTrailingZeros(capacity);
        if (buckets[bucket] == null) {
            buckets[bucket] = new Buffers(capacity * Math.max(1, cfg.numExpertsPerTok()));
        }
        return buckets[bucket];
    }

    /** The host's expert buffers for up to {@code assignments} routed rows, laid out as the primary's. */
    private final class Buffers {
        final Activation in;
        final Activation gate;
        final Activation up;
        final Activation out;
        final float[] staging;
        final int[] runStart;
        final int[] runLength;

        Buffers(int assignments) {
            int d = cfg.hiddenSize();
            in = host.allocate(assignments, d);
            gate = host.allocate(assignments, moeInter);
            up = host.allocate(assignments, moeInter);
            out = host.allocate(assignments, d);
            staging = new float[assignments * d];
            runStart = new int[cfg.nRoutedExperts()];
            runLength = new int[cfg.nRoutedExperts()];
        }
    }
}
