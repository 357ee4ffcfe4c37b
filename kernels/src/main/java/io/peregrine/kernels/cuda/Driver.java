package io.peregrine.kernels.cuda;

import jcuda.Pointer;
import jcuda.driver.CUDA_MEMCPY2D;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;

/**
 * The driver calls by which {@link CudaContext} issues work once it is open: JCuda on a device ({@link JCudaCalls}),
 * a fake in the CPU tests, which is how the context-binding and capture rules are tested without a GPU. Each call is
 * one driver function; the rules about when to call which live in {@link CudaContext}, not here.
 */
interface Driver {
    /** {@code cuCtxSetCurrent}: binds {@code context} to the calling thread. */
    void setCurrent(CUcontext context);

    /** {@code cuStreamIsCapturing}: whether work issued to {@code stream} is being recorded into a graph. */
    boolean capturing(CUstream stream);

    /** {@code cuLaunchKernel} with the arguments encoded by {@link KernelArgs}. */
    void launch(CUfunction function, LaunchGeometry geometry, CUstream stream, Object[] args);

    void alloc(CUdeviceptr ptr, long bytes);

    void free(CUdeviceptr ptr);

    /** {@code cuMemcpyHtoDAsync} on {@code stream}. */
    void copyToDevice(CUdeviceptr dst, Pointer src, long bytes, CUstream stream);

    /** {@code cuMemcpyDtoHAsync} on {@code stream}. */
    void copyToHost(Pointer dst, CUdeviceptr src, long bytes, CUstream stream);

    /** {@code cuMemcpy2DAsync} on {@code stream}: host to device, device to host or device to device. */
    void copy2D(CUDA_MEMCPY2D copy, CUstream stream);

    /** {@code cuMemsetD2D32Async} on {@code stream}: {@code height} rows of {@code width} words, {@code pitch} bytes apart. */
    void fill2D32(CUdeviceptr dst, long pitch, int pattern, long width, long height, CUstream stream);

    /** {@code cuMemsetD32Async} on {@code stream}. */
    void fill32(CUdeviceptr dst, int pattern, long words, CUstream stream);

    /** {@code cuStreamSynchronize}. */
    void synchronize(CUstream stream);

    /** {@code cuStreamBeginCapture} in thread-local mode: work issued to {@code stream} is recorded, not run. */
    void beginCapture(CUstream stream);

    /** {@code cuStreamEndCapture}: the graph recorded on {@code stream} since {@link #beginCapture}, into {@code graph}. */
    void endCapture(CUstream stream, CUgraph graph);

    /** {@code cuGraphInstantiate}: {@code graph} made launchable. */
    void instantiate(CUgraphExec exec, CUgraph graph);

    /** {@code cuGraphDestroy}: a recorded graph (its instantiation lives on). */
    void destroyGraph(CUgraph graph);

    /** {@code cuGraphLaunch} on {@code stream}: every recorded node, in order, as one launch. */
    void launchGraph(CUgraphExec exec, CUstream stream);

    /** {@code cuGraphExecDestroy}. */
    void destroyGraphExec(CUgraphExec exec);

    /** Destroys the stream, unloads the module and releases the device's primary context, in that order. */
    void release(CUstream stream, CUmodule module, CUdevice device);
}
