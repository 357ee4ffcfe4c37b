package io.peregrine.kernels.graph;

import io.peregrine.kernels.cuda.CudaContext;
import java.util.function.IntConsumer;
import jcuda.driver.CUgraphExec;

/**
 * Captures the synthetic check's decode step by running its launches on the context's stream between
 * {@link CudaContext#beginCapture} and {@link CudaContext#endCapture} (which instantiates it). The engine's own
 * decode is captured through the backend's {@code stepGraphs()} instead. {@code step} issues the launches for a bucket (it must only
 * launch and never synchronise or copy to the host while capturing); {@code prepare} runs before each replay to
 * refresh the small inputs (token ids, positions, block tables) in the buffers the graph reads.
 */
public final class CudaGraphCapturer implements DecodeGraphs.Capturer<CUgraphExec> {
    private final CudaContext ctx;
    private final IntConsumer step;
    private final IntConsumer prepare;

    public CudaGraphCapturer(CudaContext ctx, IntConsumer step, IntConsumer prepare) {
        this.ctx = ctx;
        this.step = step;
        this.prepare = prepare;
    }

    @Override
    public CUgraphExec capture(int bucket) {
        ctx.beginCapture();
        try {
            step.accept(bucket);
        } catch (RuntimeException | Error e) {
            ctx.discardCapture();
            throw e;
        }
        return ctx.endCapture();
    }

    @Override
    public void replay(CUgraphExec graph, int batch) {
        prepare.accept(batch);
        ctx.launchGraph(graph);
    }

    @Override
    public void destroy(CUgraphExec graph) {
        ctx.destroyGraph(graph);
    }
}
