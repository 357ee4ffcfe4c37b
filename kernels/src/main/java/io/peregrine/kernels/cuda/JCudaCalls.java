package io.peregrine.kernels.cuda;

import static jcuda.driver.JCudaDriver.cuGraphDestroy;
import static jcuda.driver.JCudaDriver.cuGraphExecDestroy;
import static jcuda.driver.JCudaDriver.cuGraphInstantiate;
import static jcuda.driver.JCudaDriver.cuGraphLaunch;
import static jcuda.driver.JCudaDriver.cuMemcpy2DAsync;
import static jcuda.driver.JCudaDriver.cuStreamBeginCapture;
import static jcuda.driver.JCudaDriver.cuStreamEndCapture;
import static jcuda.driver.JCudaDriver.cuMemsetD2D32Async;
import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoHAsync;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;
import static jcuda.driver.JCudaDriver.cuMemsetD32Async;
import static jcuda.driver.JCudaDriver.cuModuleUnload;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;
import static jcuda.driver.JCudaDriver.cuStreamIsCapturing;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;

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
import jcuda.driver.CUstreamCaptureMode;
import jcuda.driver.CUstreamCaptureStatus;

/** {@link Driver} over JCuda's driver API (exceptions on: a failing call throws {@code CudaException}). */
final class JCudaCalls implements Driver {

    @Override
    public void setCurrent(CUcontext context) {
        cuCtxSetCurrent(context);
    }

    @Override
    public boolean capturing(CUstream stream) {
        int[] status = new int[1];
        cuStreamIsCapturing(stream, status);
        return status[0] != CUstreamCaptureStatus.CU_STREAM_CAPTURE_STATUS_NONE;
    }

    @Override
    public void launch(CUfunction function, LaunchGeometry g, CUstream stream, Object[] args) {
        cuLaunchKernel(function, g.gridX(), g.gridY(), g.gridZ(), g.block(), 1, 1, g.sharedBytes(), stream,
                KernelArgs.encode(args), null);
    }

    @Override
    public void alloc(CUdeviceptr ptr, long bytes) {
        cuMemAlloc(ptr, bytes);
    }

    @Override
    public void free(CUdeviceptr ptr) {
        cuMemFree(ptr);
    }

    @Override
    public void copyToDevice(CUdeviceptr dst, Pointer src, long bytes, CUstream stream) {
        cuMemcpyHtoDAsync(dst, src, bytes, stream);
    }

    @Override
    public void copyToHost(Pointer dst, CUdeviceptr src, long bytes, CUstream stream) {
        cuMemcpyDtoHAsync(dst, src, bytes, stream);
    }

    @Override
    public void copy2D(CUDA_MEMCPY2D copy, CUstream stream) {
        cuMemcpy2DAsync(copy, stream);
    }

    @Override
    public void fill2D32(CUdeviceptr dst, long pitch, int pattern, long width, long height, CUstream stream) {
        cuMemsetD2D32Async(dst, pitch, pattern, width, height, stream);
    }

    @Override
    public void fill32(CUdeviceptr dst, int pattern, long words, CUstream stream) {
        cuMemsetD32Async(dst, pattern, words, stream);
    }

    @Override
    public void synchronize(CUstream stream) {
        cuStreamSynchronize(stream);
    }

    @Override
    public void beginCapture(CUstream stream) {
        cuStreamBeginCapture(stream, CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL);
    }

    @Override
    public void endCapture(CUstream stream, CUgraph graph) {
        cuStreamEndCapture(stream, graph);
    }

    @Override
    public void instantiate(CUgraphExec exec, CUgraph graph) {
        cuGraphInstantiate(exec, graph, 0);
    }

    @Override
    public void destroyGraph(CUgraph graph) {
        cuGraphDestroy(graph);
    }

    @Override
    public void launchGraph(CUgraphExec exec, CUstream stream) {
        cuGraphLaunch(exec, stream);
    }

    @Override
    public void destroyGraphExec(CUgraphExec exec) {
        cuGraphExecDestroy(exec);
    }

    @Override
    public void release(CUstream stream, CUmodule module, CUdevice device) {
        cuStreamDestroy(stream);
        cuModuleUnload(module);
        cuDevicePrimaryCtxRelease(device);
    }
}
