package io.peregrine.kernels.cuda;

import io.peregrine.engine.backend.StepGraph;
import io.peregrine.engine.backend.StepGraphs;
import java.util.concurrent.locks.ReentrantLock;
import jcuda.driver.CUgraphExec;

/**
 * {@link StepGraphs} on one context's stream: a step's launches recorded between {@code cuStreamBeginCapture} and
 * {@code cuStreamEndCapture} and instantiated as one graph. The backend's lock is held for the whole capture, so no
 * other thread's work lands in the graph. A step that copies to or from the host, allocates or synchronises is
 * refused by {@link CudaContext} ({@link io.peregrine.engine.backend.StepCaptureException}); the capture is then
 * ended and discarded, and the exception goes to the caller as it was thrown.
 */
final class CudaStepGraphs implements StepGraphs {
    private final CudaContext ctx;
    private final ReentrantLock lock;

    CudaStepGraphs(CudaContext ctx, ReentrantLock lock) {
        this.ctx = ctx;
        this.lock = lock;
    }

    @Override
    public StepGraph capture(Runnable step) {
        lock.lock();
        try {
            ctx.beginCapture();
            try {
                step.run();
            } catch (RuntimeException | Error e) {
                try {
                    ctx.discardCapture();
                } catch (RuntimeException end) {
                    e.addSuppressed(end);
                }
                throw e;
            }
            return new Graph(ctx.endCapture());
        } finally {
            lock.unlock();
        }
    }

    private final class Graph implements StepGraph {
        private CUgraphExec exec;

        Graph(CUgraphExec exec) {
            this.exec = exec;
        }

        @Override
        public void launch() {
            lock.lock();
            try {
                if (exec == null) {
                    throw new IllegalStateException("launch of a destroyed graph");
                }
                ctx.launchGraph(exec);
            } finally {
                lock.unlock();
            }
        }

        @Override
        public void close() {
            lock.lock();
            try {
                if (exec != null) {
                    ctx.destroyGraph(exec);
                    exec = null;
                }
            } finally {
                lock.unlock();
            }
        }
    }
}
