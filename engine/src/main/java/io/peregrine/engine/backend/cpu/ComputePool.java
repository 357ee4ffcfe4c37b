package io.peregrine.engine.backend.cpu;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.ForkJoinWorkerThread;

/**
 * The CPU backend's worker threads: splits an index range into chunks and runs them in parallel. Work below a
 * size threshold runs on the caller's thread, because forking costs more than a tiny product.
 */
final class ComputePool implements AutoCloseable {
    /** Body of a parallel loop over {@code [lo, hi)}. */
    @FunctionalInterface
    interface RangeBody {
        void run(int lo, int hi);
    }

    private final int threads;
    private final ForkJoinPool pool;

    ComputePool(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("compute pool needs at least one thread, got " + threads);
        }
        this.threads = threads;
        this.pool = threads == 1 ? null : new ForkJoinPool(threads);
    }

    int threads() {
        return threads;
    }

    /**
     * Runs {@code body} over {@code [0, n)} in chunks of at least {@code minChunk} indices.
     *
     * @param minChunk indices per chunk below which splitting does not pay (callers size it from the work per index)
     */
    void parallelFor(int n, int minChunk, RangeBody body) {
        int chunks = pool == null ? 1 : Math.min(threads * 4, n / Math.max(1, minChunk));
        // A body that itself calls parallelFor runs its inner loop inline rather than queueing behind itself.
        if (chunks <= 1 || Thread.currentThread() instanceof ForkJoinWorkerThread t && t.getPool() == pool) {
            body.run(0, n);
            return;
        }
        ForkJoinTask<?>[] tasks = new ForkJoinTask<?>[chunks];
        for (int c = 0; c < chunks; c++) {
            int lo = (int) ((long) n * c / chunks);
            int hi = (int) ((long) n * (c + 1) / chunks);
            tasks[c] = pool.submit(() -> body.run(lo, hi));
        }
        for (ForkJoinTask<?> t : tasks) {
            t.join();
        }
    }

    @Override
    public void close() {
        if (pool != null) {
            pool.shutdownNow();
        }
    }
}
