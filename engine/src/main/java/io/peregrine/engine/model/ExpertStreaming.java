package io.peregrine.engine.model;

import io.peregrine.engine.backend.Activation;
import io.peregrine.engine.backend.Backend;
import io.peregrine.engine.backend.LinearWeight;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.checkpoint.Int4Group32;
import io.peregrine.engine.config.TextConfig;

/**
 * The long-prefill choice for a host expert (KTransformers' approach, issue 20): when a chunk routes many rows to it,
 * streaming its weights to the primary for the chunk and computing it there can beat computing it on the host. A
 * small linear cost model of one expert over {@code rows} rows, its terms measured on the backends at start-up
 * ({@link #calibrate}):
 *
 * <pre>
 *   host(rows)   = hostFixed   + rows · (hostPerRow + copyPerRow)     the expert's weights read from DRAM once,
 *                                                                     its rows computed, sent and returned
 *   stream(rows) = streamFixed + rows · primaryPerRow                 its weights copied over, rows computed there
 * </pre>
 *
 * and it streams when {@code stream(rows) < host(rows)} and {@code rows >= minRows}, i.e. from {@link #threshold()}
 * rows on. Seconds throughout. {@code minRows} keeps decode steps and short chunks on the host whatever the
 * measurement says: the model is measured at 1 and {@link #CALIBRATION_ROWS} rows, and at a few rows its terms are
 * within the noise of one another (on a small model a calibration can find a microsecond upload cheaper than a
 * thread handoff), while the choice exists for long prefill.
 */
public record ExpertStreaming(double hostFixed, double hostPerRow, double copyPerRow, double streamFixed,
                              double primaryPerRow, int minRows) {

    /** Never streams (a primary that cannot free a weight, or the one-backend model). */
    public static final ExpertStreaming NEVER = new ExpertStreaming(0, 0, 0, Double.POSITIVE_INFINITY, 0,
            Integer.MAX_VALUE);

    /** {@link #minRows} of a calibrated model: a prefill chunk's share of one expert, not a decode step's. */
    public static final int MIN_ROWS = 16;

    /** Rows of the calibration products: a prefill chunk's worth for one expert. */
    static final int CALIBRATION_ROWS = 64;

    public double hostSeconds(int rows) {
        return hostFixed + rows * (hostPerRow + copyPerRow);
    }

    public double streamSeconds(int rows) {
        return streamFixed + rows * primaryPerRow;
    }

    /** Whether an expert with {@code rows} rows in this chunk is cheaper streamed to the primary. */
    public boolean stream(int rows) {
        return rows > 0 && rows >= minRows && streamSeconds(rows) < hostSeconds(rows);
    }

    /** The fewest rows that stream, or {@link Integer#MAX_VALUE} when none do (the host is cheaper per row too). */
    public int threshold() {
        double perRowSaving = hostPerRow + copyPerRow - primaryPerRow;
        double extra = streamFixed - hostFixed;
        if (Double.isInfinite(streamFixed) || perRowSaving <= 0) {
            return extra < 0 ? Math.max(1, minRows) : Integer.MAX_VALUE;
        }
        double rows = Math.max(Math.max(1, minRows), Math.floor(extra / perRowSaving) + 1);
        return rows >= Integer.MAX_VALUE ? Integer.MAX_VALUE : (int) rows;
    }

    @Override
    public String toString() {
        int t = threshold();
        if (this.equals(NEVER)) {
            return "never streams (not measured, or not measurable on this machine now)";
        }
        return String.format("host %.3f ms + %.1f us/row (+ %.1f us/row copies), streamed %.3f ms + %.1f us/row: %s",
                hostFixed * 1e3, hostPerRow * 1e6, copyPerRow * 1e6, streamFixed * 1e3, primaryPerRow * 1e6,
                t == Integer.MAX_VALUE ? "never streams" : "streams from " + t + " rows per expert");
    }

    /**
     * Measures the model's terms on {@code primary} and {@code host} with the first MoE layer's expert 0 of
     * {@code ck}: its three products over 1 and {@link #CALIBRATION_ROWS} rows on each side (the best of repeated runs, see {@link #best}),
     * its weights uploaded to the primary and released, and the row copies each way. {@link #NEVER} when the
     * primary cannot free a streamed weight, the experts are not INT4, or the timings stay inconsistent (a busy or
     * still-compiling machine).
     */
    public static ExpertStreaming calibrate(Checkpoint ck, Backend primary, Backend host) {
        TextConfig c = ck.config().text();
        int layer = -1;
        for (int l = 0; l < c.numHiddenLayers() && layer < 0; l++) {
            layer = c.isMoeLayer(l) ? l : -1;
        }
        String root = ck.has("language_model.model.embed_tokens.weight") ? "language_model." : "";
        String p = root + "model.layers." + layer + ".mlp.experts.0.";
        if (layer < 0 || !ck.has(p + "gate_proj.weight_packed")) {
            return NEVER;
        }
        Int4Group32[] q = {Int4Group32.of(ck, p + "gate_proj"), Int4Group32.of(ck, p + "up_proj"),
                Int4Group32.of(ck, p + "down_proj")};
        LinearWeight[] onPrimary;
        try {
            onPrimary = upload(primary, q);
        } catch (UnsupportedOperationException e) {
            return NEVER;
        }
        LinearWeight[] onHost = upload(host, q);
        try {
            int d = c.hiddenSize();
            int inter = c.moeIntermediateSize();
            double[] hostT = new double[2];
            double[] primT = new double[2];
            // until the kernels are compiled a Vector API loop runs orders of magnitude slower, and which shape
            // compiled first would decide the model: passes until one is consistent (64 rows slower than one on
            // each side), the first never counted; none in PASSES: the model is not trusted, nothing streams
            boolean consistent = false;
            for (int pass = 0; pass < PASSES && !consistent; pass++) {
                hostT[0] = expert(host, onHost, 1, d, inter);
                hostT[1] = expert(host, onHost, CALIBRATION_ROWS, d, inter);
                primT[0] = expert(primary, onPrimary, 1, d, inter);
                primT[1] = expert(primary, onPrimary, CALIBRATION_ROWS, d, inter);
                consistent = pass > 0 && hostT[1] > hostT[0] && primT[1] > primT[0];
            }
            if (!consistent) {
                return NEVER;
            }
            double stream = best(() -> {
                primary.release(onPrimary[0]);
                onPrimary[0] = null;
                // one weight timed as the share of the three: gate, up and down are the same size
                onPrimary[0] = primary.uploadTransient(q[0]);
            }) * 3;
            double copy = copies(primary, host, CALIBRATION_ROWS, d) / CALIBRATION_ROWS;
            double hostPerRow = Math.max(0, (hostT[1] - hostT[0]) / (CALIBRATION_ROWS - 1));
            double primaryPerRow = Math.max(0, (primT[1] - primT[0]) / (CALIBRATION_ROWS - 1));
            return new ExpertStreaming(Math.max(0, hostT[0] - hostPerRow), hostPerRow, copy,
                    stream + Math.max(0, primT[0] - primaryPerRow), primaryPerRow, MIN_ROWS);
        } finally {
            for (LinearWeight w : onPrimary) {
                if (w != null) {
                    primary.release(w);
                }
            }
            for (LinearWeight w : onHost) {
                host.release(w);
            }
        }
    }

    private static LinearWeight[] upload(Backend b, Int4Group32[] q) {
        LinearWeight[] w = new LinearWeight[q.length];
        for (int i = 0; i < q.length; i++) {
            w[i] = b.uploadTransient(q[i]);
        }
        return w;
    }

    /**
     * The fastest of repeated runs of {@code run}, in seconds: at least {@link #RUNS} runs and {@link #MIN_NANOS} of
     * them in all (so a small model's kernels are compiled before they count; at most {@link #MAX_RUNS}), after one
     * that does not count.
     */
    private static double best(Runnable run) {
        run.run();
        long best = Long.MAX_VALUE;
        long spent = 0;
        for (int i = 0; i < MAX_RUNS && (i < RUNS || spent < MIN_NANOS); i++) {
            long t0 = System.nanoTime();
            run.run();
            long t = System.nanoTime() - t0;
            best = Math.min(best, t);
            spent += t;
        }
        return best / 1e9;
    }

    private static final int PASSES = 5;
    private static final int RUNS = 5;
    private static final int MAX_RUNS = 2000;
    private static final long MIN_NANOS = 100_000_000;

    /** Gate, up, SiLU·up, down over {@code rows} rows, at best; a copy out waits for a device. */
    private static double expert(Backend b, LinearWeight[] w, int rows, int d, int inter) {
        Activation x = b.allocate(rows, d);
        Activation g = b.allocate(rows, inter);
        Activation u = b.allocate(rows, inter);
        Activation y = b.allocate(rows, d);
        float[] in = new float[rows * d];
        for (int i = 0; i < in.length; i++) {
            in[i] = (float) Math.sin(i * 0.37);
        }
        b.copyIn(in, 0, x);
        float[] one = new float[d];
        return best(() -> {
            b.matmul(w[0], x, g);
            b.matmul(w[1], x, u);
            b.siluMul(g, u, g);
            b.matmul(w[2], g, y);
            b.copyOut(y.rows(0, 1), one, 0);
        });
    }

    /** {@code rows} rows out of the primary into the host and back, at best. */
    private static double copies(Backend primary, Backend host, int rows, int d) {
        Activation p = primary.allocate(rows, d);
        Activation h = host.allocate(rows, d);
        float[] staging = new float[rows * d];
        return best(() -> {
            primary.copyOut(p, staging, 0);
            host.copyIn(staging, 0, h);
            host.copyOut(h, staging, 0);
            primary.copyIn(staging, 0, p);
        });
    }
}
