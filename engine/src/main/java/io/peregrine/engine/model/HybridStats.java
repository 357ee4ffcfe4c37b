package io.peregrine.engine.model;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * What the hybrid MoE step (issue 20, {@link HybridMoe}) did since start: bytes copied each way between the primary
 * and the host, rows computed by host experts, streaming decisions, and the time of each part of a MoE layer. The
 * engine thread adds (no allocation), the metrics scrape reads; each total is exact, a read across totals is not a
 * snapshot of one instant.
 */
public final class HybridStats {
    /** The parts of a hybrid MoE layer, timed on the calling (engine) thread except {@link #HOST_EXPERTS}. */
    public enum Part {
        /** Router product, routing on the host, gather of the routed rows, on the primary. */
        ROUTE,
        /** The host experts' rows out of the primary and into the host's buffer. */
        COPY_OUT,
        /** The host experts' products, on the host thread. */
        HOST_EXPERTS,
        /** Uploading streamed experts to the primary (long prefill chunks). */
        STREAM,
        /** The primary's shared expert, its own experts and the streamed ones (queued, on a device). */
        PRIMARY,
        /** The engine thread waiting for the host after its own products. */
        WAIT,
        /** The host experts' outputs back into the primary's buffer. */
        COPY_BACK,
        /** The weighted combine of all routed rows and the shared expert. */
        COMBINE,
        /** Time the host experts and the primary's products ran at once. */
        OVERLAP
    }

    private final AtomicLongArray nanos = new AtomicLongArray(Part.values().length);
    private final AtomicLongArray counts = new AtomicLongArray(6);
    private static final int TO_HOST = 0;
    private static final int TO_PRIMARY = 1;
    private static final int HOST_ROWS = 2;
    private static final int LAYERS = 3;
    private static final int STREAMED = 4;
    private static final int KEPT = 5;

    void time(Part part, long nanos) {
        this.nanos.addAndGet(part.ordinal(), nanos);
    }

    void copied(long toHost, long toPrimary) {
        counts.addAndGet(TO_HOST, toHost);
        counts.addAndGet(TO_PRIMARY, toPrimary);
    }

    void layer(int hostRows) {
        counts.addAndGet(HOST_ROWS, hostRows);
        counts.incrementAndGet(LAYERS);
    }

    /** One host expert of a chunk: streamed to the primary, or computed on the host. */
    void decided(boolean streamed) {
        counts.incrementAndGet(streamed ? STREAMED : KEPT);
    }

    public long nanos(Part part) {
        return nanos.get(part.ordinal());
    }

    /** Activation bytes copied from the primary to the host (the host experts' input rows). */
    public long bytesToHost() {
        return counts.get(TO_HOST);
    }

    /** Activation bytes copied from the host back to the primary (the host experts' output rows). */
    public long bytesToPrimary() {
        return counts.get(TO_PRIMARY);
    }

    /** Routed rows computed by host experts. */
    public long hostRows() {
        return counts.get(HOST_ROWS);
    }

    /** MoE layer steps run in the hybrid path. */
    public long layerSteps() {
        return counts.get(LAYERS);
    }

    /** Host experts (per layer step with rows) streamed to the primary instead of computed on the host. */
    public long streamedExperts() {
        return counts.get(STREAMED);
    }

    /** Host experts (per layer step with rows) computed on the host. */
    public long hostComputedExperts() {
        return counts.get(KEPT);
    }
}
