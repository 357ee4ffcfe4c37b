package io.peregrine.engine.model;

import io.peregrine.engine.backend.Activation;
import io.peregrine.engine.backend.Backend;
import io.peregrine.engine.backend.Product;
import io.peregrine.engine.config.TextConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Semaphore;

/**
 * The routed experts a layer computes on the host backend ({@link ExpertPlacement}), run for the rows the router sent
 * them, on a host thread of their own while the engine thread runs the primary's products. Their gathered input rows
 * leave the primary's expert buffer through one host staging array (on a GPU: the device-to-host copy), the host
 * computes them in the same layout (same row offsets, same products as the primary would run), and their outputs go
 * back into the primary's expert buffer at the same rows, so the caller's one weighted combine adds every expert in
 * expert order, exactly as on one backend. Experts whose rows are adjacent travel as one copy. Buffers are per
 * batch-size bucket, allocated once.
 *
 * <p>A layer is three calls around the primary's products: {@link #send} (copies, on the engine thread),
 * {@link #start} (hands the products to the host thread), then after the primary's products {@link #finish} (waits
 * for the host, copies the outputs back). Only the host thread touches the host backend between start and finish;
 * only the engine thread touches the primary. The two sides' results meet in the expert buffer, whose rows they do
 * not share, so the order of the sums is the one-backend model's whatever the timing.
 */
final class HostExperts {
    /** Which side computes expert {@code e} in this layer step (see {@link HybridMoe}). */
    static final byte PRIMARY = 0;
    static final byte HOST = 1;
    static final byte STREAMED = 2;

    private final Backend host;
    private final Backend primary;
    private final TextConfig cfg;
    private final int moeInter;
    private final HybridStats stats;
    private final Buffers[] buckets = new Buffers[32];
    private final List<Product> products = new ArrayList<>();
    /** What {@link #send} left for the host thread and {@link #finish}. */
    private Buffers sent;
    private int runs;
    private int rowsSent;
    private LayerWeights.Moe moe;
    private byte[] side;
    private int[] first;
    private int[] count;
    // the host thread's handshake: go (engine → host), done (host → engine)
    private final Semaphore go = new Semaphore(0);
    private final Semaphore done = new Semaphore(0);
    private Thread thread;
    private volatile Throwable failure;
    private long hostStart;
    private long hostEnd;

    HostExperts(Backend primary, Backend host, TextConfig cfg, int moeInter, HybridStats stats) {
        this.primary = primary;
        this.host = host;
        this.cfg = cfg;
        this.moeInter = moeInter;
        this.stats = stats;
    }

    /**
     * Copies the rows of {@code ws.expertIn} routed to experts with {@code side[e] == HOST} into the host's buffer,
     * at the same rows.
     */
    void send(Workspace ws, byte[] side) {
        long t0 = System.nanoTime();
        Buffers b = buffers(ws.capacity());
        sent = b;
        runs = 0;
        rowsSent = 0;
        int experts = cfg.nRoutedExperts();
        for (int e = 0; e < experts; e++) {
            int n = ws.expertCount[e];
            if (n == 0 || side[e] != HOST) {
                continue;
            }
            int at = ws.expertFirst[e];
            rowsSent += n;
            if (runs > 0 && b.runStart[runs - 1] + b.runLength[runs - 1] == at) {
                b.runLength[runs - 1] += n;
            } else {
                b.runStart[runs] = at;
                b.runLength[runs++] = n;
            }
        }
        int d = cfg.hiddenSize();
        for (int r = 0; r < runs; r++) {
            int at = b.runStart[r];
            int n = b.runLength[r];
            primary.copyOut(ws.expertIn(at, n), b.staging, at * d);
            host.copyIn(b.staging, at * d, b.in.rows(at, n));
        }
        stats.time(HybridStats.Part.COPY_OUT, System.nanoTime() - t0);
    }

    /** Starts the host experts over the rows {@link #send} copied, on the host thread; nothing to do without rows. */
    void start(LayerWeights.Moe moe, Workspace ws, byte[] side) {
        if (runs == 0) {
            return;
        }
        this.moe = moe;
        this.side = side;
        this.first = ws.expertFirst;
        this.count = ws.expertCount;
        if (thread == null) {
            thread = Thread.ofPlatform().daemon().name("peregrine-host-experts").start(this::serve);
        }
        go.release();
    }

    /**
     * Waits for the host experts and writes their outputs into their rows of {@code ws.expertOut}.
     *
     * @param primaryStart when the engine thread started the primary's products, for the overlap
     * @param primaryEnd   when they returned (on a device: when they were queued)
     */
    void finish(Workspace ws, long primaryStart, long primaryEnd) {
        if (runs == 0) {
            stats.layer(0);
            return;
        }
        long t0 = System.nanoTime();
        done.acquireUninterruptibly();
        long t1 = System.nanoTime();
        stats.time(HybridStats.Part.WAIT, t1 - t0);
        Throwable f = failure;
        if (f != null) {
            failure = null;
            runs = 0;
            if (f instanceof RuntimeException r) {
                throw r;
            }
            if (f instanceof Error e) {
                throw e;
            }
            throw new IllegalStateException("host experts failed", f);
        }
        stats.time(HybridStats.Part.HOST_EXPERTS, hostEnd - hostStart);
        stats.time(HybridStats.Part.OVERLAP,
                Math.max(0, Math.min(hostEnd, primaryEnd) - Math.max(hostStart, primaryStart)));
        Buffers b = sent;
        int d = cfg.hiddenSize();
        for (int r = 0; r < runs; r++) {
            int at = b.runStart[r];
            int n = b.runLength[r];
            host.copyOut(b.out.rows(at, n), b.staging, at * d);
            primary.copyIn(b.staging, at * d, ws.expertOut(at, n));
        }
        long bytes = 4L * rowsSent * d;
        stats.copied(bytes, bytes);
        stats.layer(rowsSent);
        stats.time(HybridStats.Part.COPY_BACK, System.nanoTime() - t1);
        runs = 0;
    }

    /** The host thread: one layer's host experts per {@link #start}. */
    private void serve() {
        while (true) {
            go.acquireUninterruptibly();
            hostStart = System.nanoTime();
            try {
                compute();
            } catch (Throwable t) {
                failure = t;
            }
            hostEnd = System.nanoTime();
            done.release();
        }
    }

    /** Gate/up as one batch, SiLU·up, down as another: the products the primary would run, in the same rows. */
    private void compute() {
        Buffers b = sent;
        int experts = cfg.nRoutedExperts();
        products.clear();
        for (int e = 0; e < experts; e++) {
            if (count[e] > 0 && side[e] == HOST) {
                int at = first[e];
                LayerWeights.Dense mlp = moe.experts().get(e);
                products.add(new Product(mlp.gate(), b.in.rows(at, count[e]), b.gate.rows(at, count[e])));
                products.add(new Product(mlp.up(), b.in.rows(at, count[e]), b.up.rows(at, count[e])));
            }
        }
        host.matmulAll(products);
        products.clear();
        for (int e = 0; e < experts; e++) {
            if (count[e] > 0 && side[e] == HOST) {
                int at = first[e];
                Activation g = b.gate.rows(at, count[e]);
                host.siluMul(g, b.up.rows(at, count[e]), g);
                products.add(new Product(moe.experts().get(e).down(), g, b.out.rows(at, count[e])));
            }
        }
        host.matmulAll(products);
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
