package io.peregrine.engine.model;

import io.peregrine.engine.backend.StepCaptureException;
import io.peregrine.engine.backend.StepGraph;
import io.peregrine.engine.backend.StepGraphs;
import io.peregrine.engine.kv.LatentCache;
import java.util.Arrays;
import java.util.Locale;

/**
 * Plain decode steps replayed as captured graphs, one per batch-size bucket (1, 2, 4, … up to the largest batch,
 * which is a bucket of its own when it is not a power of two), as vLLM captures its decode. A step of {@code n}
 * sequences is padded to the smallest bucket that holds it ({@link StepInputs#padDecode}: dummy rows on the cache's
 * pad slot), its inputs go into that bucket's own workspace in one upload, and the graph re-reads them. The first step
 * of a bucket runs eagerly (which also makes every buffer the backend creates lazily) and then captures the same
 * forward: embedding, every layer, final norm and lm_head. Sampling stays outside, as in vLLM.
 *
 * <p>A graph reads the buffers it was captured over, so it is captured again when its workspace reallocated one (a
 * context longer than the packed indices hold; {@link Workspace#generation}) or the step runs over another cache. A
 * step that synchronises with the host cannot be captured ({@link StepCaptureException}: the MoE layer routes on the
 * host today): the first such capture logs one line and every later step runs eagerly. The graphs live as long as
 * the model (they go with the backend's context).
 */
final class GraphedDecode {
    private static final System.Logger LOG = System.getLogger(GraphedDecode.class.getName());
    /** Context slots per row reserved before a first capture, so short contexts growing do not force recaptures. */
    static final int CONTEXT_PER_ROW = 4096;

    private final KimiTextModel model;
    private final StepGraphs backend;
    private final int contextPerRow;
    private final int[] buckets;
    private final Workspace[] workspaces;
    private final StepGraph[] graphs;
    private final int[] generations;
    private final LatentCache[] caches;
    private boolean eager;
    private int captures;
    private int launches;

    GraphedDecode(KimiTextModel model, StepGraphs backend, int maxBatch, int contextPerRow) {
        this.model = model;
        this.backend = backend;
        this.contextPerRow = contextPerRow;
        this.buckets = buckets(maxBatch);
        this.workspaces = new Workspace[buckets.length];
        this.graphs = new StepGraph[buckets.length];
        this.generations = new int[buckets.length];
        this.caches = new LatentCache[buckets.length];
    }

    /** The batch buckets up to {@code maxBatch}: the powers of two below it, then itself. */
    static int[] buckets(int maxBatch) {
        if (maxBatch < 1) {
            throw new IllegalArgumentException("max batch " + maxBatch + " < 1");
        }
        int[] b = new int[33];
        int n = 0;
        for (int p = 1; p < maxBatch; p <<= 1) {
            b[n++] = p;
        }
        b[n++] = maxBatch;
        return Arrays.copyOf(b, n);
    }

    int[] buckets() {
        return buckets.clone();
    }

    /** Whether {@code in} runs as a graph: a plain decode that fits the largest bucket, while capture works. */
    boolean accepts(StepInputs in) {
        return !eager && in.plainDecode() && in.rows() <= buckets[buckets.length - 1];
    }

    /** Graphs captured so far, recaptures included. */
    int captures() {
        return captures;
    }

    /** Steps run as one graph launch. */
    int launches() {
        return launches;
    }

    /** Whether a capture failed and every step now runs eagerly. */
    boolean fellBack() {
        return eager;
    }

    /**
     * Runs an {@link #accepts accepted} step; returns the workspace whose first {@code rows} logits rows it wrote, or
     * null when its capture failed: graphs are then off and the caller runs the step eagerly from fresh inputs (the
     * padded warm-up's latents in the real slots are overwritten by the same step unpadded, so the fallback's results
     * are exactly the eager ones).
     */
    Workspace run(StepInputs in, LatentCache cache) {
        int b = 0;
        while (buckets[b] < in.rows()) {
            b++;
        }
        in.padDecode(buckets[b], cache.padSlot());
        Workspace ws = workspaces[b];
        if (ws == null) {
            // no host-routed MoE layer: the model turns graphs on only without one
            ws = workspaces[b] = new Workspace(model.backend(), model.config(), model.shard(), buckets[b], false);
        }
        StepGraph g = graphs[b];
        if (g == null) {
            ws.reserveContext(Math.max(2 * in.contextSlots(), buckets[b] * contextPerRow));
        }
        ws.bind(in);
        if (g != null && (generations[b] != ws.generation() || caches[b] != cache)) {
            g.close();  // the context outgrew the packed indices (bind reallocated them), or another cache
            g = graphs[b] = null;
        }
        if (g != null) {
            g.launch();
            launches++;
            return ws;
        }
        return capture(b, in, ws, cache) ? ws : null;
    }

    /** The step eagerly (its result, and every lazily made buffer), then the same forward captured. */
    private boolean capture(int b, StepInputs in, Workspace ws, LatentCache cache) {
        long t0 = System.nanoTime();
        model.forward(in, ws, cache, ForwardTrace.NONE);
        try {
            graphs[b] = backend.capture(() -> model.forward(in, ws, cache, ForwardTrace.NONE));
        } catch (StepCaptureException e) {
            eager = true;
            LOG.log(System.Logger.Level.WARNING, "decode graphs off, every step runs eagerly: the decode step of "
                    + "bucket " + buckets[b] + " cannot be captured (" + e.getMessage() + ")");
            return false;
        }
        generations[b] = ws.generation();
        caches[b] = cache;
        captures++;
        LOG.log(System.Logger.Level.INFO, String.format(Locale.ROOT,
                "decode graph for batch bucket %d captured in %.1f ms (eager step + capture)", buckets[b],
                (System.nanoTime() - t0) / 1e6));
        return true;
    }
}
