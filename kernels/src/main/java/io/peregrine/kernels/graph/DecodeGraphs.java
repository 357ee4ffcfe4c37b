package io.peregrine.kernels.graph;

import java.util.Map;
import java.util.TreeMap;

/**
 * Decode steps replayed as CUDA graphs: one graph per batch-size bucket (powers of two up to {@code maxBatch}),
 * captured on first use and replayed afterwards. A batch runs in the smallest bucket that holds it; the rows past
 * the real batch are padding whose cache slots are {@code -1} (the cache-write kernel skips them). Buffers a graph
 * captured must not move; when they do (a larger workspace, a new cache), {@link #invalidate()} drops every graph.
 *
 * @param <G> the captured executable graph (a {@code CUgraphExec} on the device, a fake in tests)
 */
public final class DecodeGraphs<G> implements AutoCloseable {

    /** The device side: capture the decode step for a bucket, replay it, free it. */
    public interface Capturer<G> {
        G capture(int bucket);

        void replay(G graph, int batch);

        void destroy(G graph);
    }

    private final Capturer<G> capturer;
    private final int maxBatch;
    private final Map<Integer, G> graphs = new TreeMap<>();
    private int captures;

    public DecodeGraphs(Capturer<G> capturer, int maxBatch) {
        if (maxBatch < 1) {
            throw new IllegalArgumentException("max batch " + maxBatch);
        }
        this.capturer = capturer;
        this.maxBatch = maxBatch;
    }

    /** The bucket for a batch: the next power of two, at most {@code maxBatch}. */
    public int bucket(int batch) {
        if (batch < 1 || batch > maxBatch) {
            throw new IllegalArgumentException("decode batch " + batch + " outside [1, " + maxBatch + "]");
        }
        int b = Integer.highestOneBit(batch);
        if (b < batch) {
            b <<= 1;
        }
        return Math.min(b, maxBatch);
    }

    /** Runs one decode step of {@code batch} sequences, capturing its bucket's graph first if needed. */
    public void step(int batch) {
        int b = bucket(batch);
        G g = graphs.get(b);
        if (g == null) {
            g = capturer.capture(b);
            captures++;
            graphs.put(b, g);
        }
        capturer.replay(g, batch);
    }

    public void invalidate() {
        graphs.values().forEach(capturer::destroy);
        graphs.clear();
    }

    /** Graphs captured since creation (a replay that recaptures shows here). */
    public int captures() {
        return captures;
    }

    public int cached() {
        return graphs.size();
    }

    @Override
    public void close() {
        invalidate();
    }
}
