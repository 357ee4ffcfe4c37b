package io.peregrine.kernels.cuda;

import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import jcuda.Pointer;
import jcuda.driver.CUDA_MEMCPY2D;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmemorytype;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;

/**
 * A driver that keeps, as the real one does, a current context per thread, and records every call with the context
 * that was current on the calling thread when it was made. Contexts are told apart by identity (JCuda's handles all
 * compare equal before the driver fills them in).
 */
final class FakeDriver implements Driver {
    /** One driver call: its name, the thread's current context at the time, the stream it named (or null). */
    record Call(String name, CUcontext current, CUstream stream, Object[] args) {}

    private final ThreadLocal<CUcontext> current = new ThreadLocal<>();
    final List<Call> calls = Collections.synchronizedList(new ArrayList<>());
    volatile boolean capturing;
    /** The function of every launch, in order (handles told apart by identity). */
    final List<CUfunction> launched = Collections.synchronizedList(new ArrayList<>());
    /** The geometry of every launch, in the order of {@link #launched}. */
    final List<LaunchGeometry> geometries = Collections.synchronizedList(new ArrayList<>());

    /** A context over this driver with its own handles. */
    CudaContext open(String name) {
        Map<KernelName, CUfunction> functions = new EnumMap<>(KernelName.class);
        for (KernelName k : KernelName.values()) {
            functions.put(k, new CUfunction());
        }
        return new CudaContext(this, new CUdevice(), new CUcontext(), new CUmodule(), new CUstream(), functions, 132,
                name, "fake");
    }

    private void record(String name, CUstream stream, Object... args) {
        calls.add(new Call(name, current.get(), stream, args));
    }

    List<Call> calls(String name) {
        synchronized (calls) {
            return calls.stream().filter(c -> c.name().equals(name)).toList();
        }
    }

    /** Bytes moved by the calls named {@code name} (copyToDevice or copyToHost). */
    long bytes(String name) {
        return calls(name).stream().mapToLong(c -> (Long) c.args()[0]).sum();
    }

    /** How many launches ran {@code k} of {@code ctx}. */
    long launches(CudaContext ctx, KernelName k) {
        synchronized (launched) {
            return launched.stream().filter(f -> f == ctx.function(k)).count();
        }
    }

    void reset() {
        calls.clear();
        launched.clear();
        geometries.clear();
    }

    @Override
    public void setCurrent(CUcontext context) {
        current.set(context);
    }

    @Override
    public boolean capturing(CUstream stream) {
        record("capturing", stream);
        return capturing;
    }

    @Override
    public void launch(CUfunction function, LaunchGeometry geometry, CUstream stream, Object[] args) {
        launched.add(function);
        geometries.add(geometry);
        record("launch", stream, args);
    }

    @Override
    public void alloc(CUdeviceptr ptr, long bytes) {
        record("alloc", null, bytes);
    }

    @Override
    public void free(CUdeviceptr ptr) {
        record("free", null);
    }

    @Override
    public void copyToDevice(CUdeviceptr dst, Pointer src, long bytes, CUstream stream) {
        record("copyToDevice", stream, bytes);
    }

    @Override
    public void copyToHost(Pointer dst, CUdeviceptr src, long bytes, CUstream stream) {
        record("copyToHost", stream, bytes);
    }

    /** Recorded as the 1-D call of the same direction, with its bytes. */
    @Override
    public void copy2D(CUDA_MEMCPY2D copy, CUstream stream) {
        long bytes = copy.WidthInBytes * copy.Height;
        if (copy.srcMemoryType == CUmemorytype.CU_MEMORYTYPE_HOST) {
            record("copyToDevice", stream, bytes);
        } else if (copy.dstMemoryType == CUmemorytype.CU_MEMORYTYPE_HOST) {
            record("copyToHost", stream, bytes);
        } else {
            record("copyOnDevice", stream, bytes);
        }
    }

    @Override
    public void fill2D32(CUdeviceptr dst, long pitch, int pattern, long width, long height, CUstream stream) {
        record("fill32", stream, pattern, width * height);
    }

    @Override
    public void fill32(CUdeviceptr dst, int pattern, long words, CUstream stream) {
        record("fill32", stream, pattern, words);
    }

    @Override
    public void synchronize(CUstream stream) {
        record("synchronize", stream);
    }

    @Override
    public void release(CUstream stream, CUmodule module, CUdevice device) {
        record("release", stream);
    }
}
