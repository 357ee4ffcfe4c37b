package io.peregrine.kernels.cuda;

import jcuda.Pointer;
import jcuda.driver.CUDA_MEMCPY2D;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUmemorytype;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;

/**
 * Counts what a context issues: kernel launches (those recorded into a graph apart), graph launches, bytes copied
 * host to device and device to host, stream synchronisations. A decorator over the context's {@link Driver}, so it sees every call the backend makes; the device
 * check reads it per decode step. Read and reset on the thread that drives the backend.
 */
public final class TrafficCounter {
    private long launches;
    private long captured;
    private long graphLaunches;
    private boolean capturing;
    private long bytesUp;
    private long bytesDown;
    private long synchronisations;

    public long launches() {
        return launches;
    }

    /** Kernel launches recorded into a graph while a stream was being captured (not run then). */
    public long captured() {
        return captured;
    }

    /** Graphs launched, each running every kernel it recorded. */
    public long graphLaunches() {
        return graphLaunches;
    }

    public long bytesUp() {
        return bytesUp;
    }

    public long bytesDown() {
        return bytesDown;
    }

    public long synchronisations() {
        return synchronisations;
    }

    public void reset() {
        launches = captured = graphLaunches = bytesUp = bytesDown = synchronisations = 0;
    }

    Driver wrap(Driver d) {
        return new Driver() {
            @Override
            public void setCurrent(CUcontext context) {
                d.setCurrent(context);
            }

            @Override
            public boolean capturing(CUstream stream) {
                return d.capturing(stream);
            }

            @Override
            public void launch(CUfunction function, LaunchGeometry geometry, CUstream stream, Object[] args) {
                if (capturing) {
                    captured++;
                } else {
                    launches++;
                }
                d.launch(function, geometry, stream, args);
            }

            @Override
            public void alloc(CUdeviceptr ptr, long bytes) {
                d.alloc(ptr, bytes);
            }

            @Override
            public void free(CUdeviceptr ptr) {
                d.free(ptr);
            }

            @Override
            public void copyToDevice(CUdeviceptr dst, Pointer src, long bytes, CUstream stream) {
                bytesUp += bytes;
                d.copyToDevice(dst, src, bytes, stream);
            }

            @Override
            public void copyToHost(Pointer dst, CUdeviceptr src, long bytes, CUstream stream) {
                bytesDown += bytes;
                d.copyToHost(dst, src, bytes, stream);
            }

            @Override
            public void copy2D(CUDA_MEMCPY2D copy, CUstream stream) {
                long bytes = copy.WidthInBytes * copy.Height;
                if (copy.srcMemoryType == CUmemorytype.CU_MEMORYTYPE_HOST) {
                    bytesUp += bytes;
                } else if (copy.dstMemoryType == CUmemorytype.CU_MEMORYTYPE_HOST) {
                    bytesDown += bytes;
                }
                d.copy2D(copy, stream);
            }

            @Override
            public void fill2D32(CUdeviceptr dst, long pitch, int pattern, long width, long height, CUstream stream) {
                d.fill2D32(dst, pitch, pattern, width, height, stream);
            }

            @Override
            public void fill32(CUdeviceptr dst, int pattern, long words, CUstream stream) {
                d.fill32(dst, pattern, words, stream);
            }

            @Override
            public void synchronize(CUstream stream) {
                synchronisations++;
                d.synchronize(stream);
            }

            @Override
            public void beginCapture(CUstream stream) {
                d.beginCapture(stream);
                capturing = true;
            }

            @Override
            public void endCapture(CUstream stream, CUgraph graph) {
                capturing = false;
                d.endCapture(stream, graph);
            }

            @Override
            public void instantiate(CUgraphExec exec, CUgraph graph) {
                d.instantiate(exec, graph);
            }

            @Override
            public void destroyGraph(CUgraph graph) {
                d.destroyGraph(graph);
            }

            @Override
            public void launchGraph(CUgraphExec exec, CUstream stream) {
                graphLaunches++;
                d.launchGraph(exec, stream);
            }

            @Override
            public void destroyGraphExec(CUgraphExec exec) {
                d.destroyGraphExec(exec);
            }

            @Override
            public void release(CUstream stream, CUmodule module, CUdevice device) {
                d.release(stream, module, device);
            }
        };
    }
}
