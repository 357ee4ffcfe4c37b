package io.peregrine.kernels.graph;

import static jcuda.driver.JCudaDriver.cuGraphDestroy;
import static jcuda.driver.JCudaDriver.cuGraphExecDestroy;
import static jcuda.driver.JCudaDriver.cuGraphInstantiate;
import static jcuda.driver.JCudaDriver.cuGraphLaunch;
import static jcuda.driver.JCudaDriver.cuStreamBeginCapture;
import static jcuda.driver.JCudaDriver.cuStreamEndCapture;

import io.peregrine.kernels.cuda.CudaContext;
import java.util.function.IntConsumer;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUstreamCaptureMode;

/**
 * Captures a decode step by running its launches on the context's stream between {@code cuStreamBeginCapture} and
 * {@code cuStreamEndCapture}, then instantiates it. {@code step} issues the launches for a bucket (it must only
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
        ctx.makeCurrent();  // the capture, instantiation and launches below act on the calling thread's context
        CUgraph graph = new CUgraph();
        cuStreamBeginCapture(ctx.stream(), CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL);
        try {
            step.accept(bucket);
        } finally {
            cuStreamEndCapture(ctx.stream(), graph);
        }
        CUgraphExec exec = new CUgraphExec();
        cuGraphInstantiate(exec, graph, 0);
        cuGraphDestroy(graph);
        return exec;
    }

    @Override
    public void replay(CUgraphExec graph, int batch) {
        prepare.accept(batch);
        ctx.makeCurrent();
        cuGraphLaunch(graph, ctx.stream());
    }

    @Override
    public void destroy(CUgraphExec graph) {
        ctx.makeCurrent();
        cuGraphExecDestroy(graph);
    }
}
