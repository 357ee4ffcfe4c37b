package io.peregrine.kernels.cuda;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuDeviceGetName;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuModuleUnload;
import static jcuda.driver.JCudaDriver.cuStreamCreate;

import io.peregrine.engine.backend.StepCaptureException;
import java.nio.charset.StandardCharsets;
import java.util.EnumMap;
import java.util.Map;
import java.util.Set;
import jcuda.CudaException;
import jcuda.Pointer;
import jcuda.driver.CUDA_MEMCPY2D;
import jcuda.driver.CUmemorytype;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;
import jcuda.driver.JCudaDriver;

/**
 * One device's primary context, the Peregrine module loaded into it ({@code cuModuleLoadData} on the sm_90a cubin,
 * the compute_90 PTX when the cubin does not load) with every {@link KernelName} resolved, and one stream. JCuda's
 * exceptions are on: every driver call checks its return code.
 *
 * <p>Any thread may use it: every method that issues work first makes the context current on the calling thread
 * (the driver acts on the thread's current context, and the engine loads on one thread and serves on another). That
 * is one {@code cuCtxSetCurrent} per call, which sets the thread's current context and enqueues and synchronises
 * nothing (so it is not one of the calls a graph capture forbids). Callers still serialise their use of the one
 * stream.
 *
 * <p>The stream is non-blocking: it does not synchronise with the legacy default stream, so nothing another thread
 * or library issues there can stall it or break a graph capture on it. Everything this class and {@link DeviceBuffer}
 * issue is therefore ordered on this stream, copies included. Copies from and to Java arrays (pageable memory) and
 * allocations cannot be part of a CUDA graph: they refuse with a clear message ({@link StepCaptureException}) while
 * the stream is being captured, instead of invalidating the capture; launches and {@link DeviceBuffer#poison} are captured like any stream work.
 */
public final class CudaContext implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(CudaContext.class.getName());

    private final Driver driver;
    private final CUdevice device;
    private final CUcontext context;
    private final CUmodule module;
    private final CUstream stream;
    private final Map<KernelName, CUfunction> functions;
    private final int multiprocessors;
    private final String deviceName;
    private final String loadedFrom;

    CudaContext(Driver driver, CUdevice device, CUcontext context, CUmodule module, CUstream stream,
                Map<KernelName, CUfunction> functions, int multiprocessors, String deviceName, String loadedFrom) {
        this.driver = driver;
        this.device = device;
        this.context = context;
        this.module = module;
        this.stream = stream;
        this.functions = functions;
        this.multiprocessors = multiprocessors;
        this.deviceName = deviceName;
        this.loadedFrom = loadedFrom;
    }

    public static CudaContext open(int ordinal) {
        return open(ordinal, null);
    }

    /** Opens device {@code ordinal} with every driver call it issues counted by {@code counter} (null: none). */
    public static CudaContext open(int ordinal, TrafficCounter counter) {
        JCudaDriver.setExceptionsEnabled(true);
        cuInit(0);
        CUdevice device = new CUdevice();
        cuDeviceGet(device, ordinal);
        CUcontext context = new CUcontext();
        cuDevicePrimaryCtxRetain(context, device);
        CUmodule module = null;
        try {
            cuCtxSetCurrent(context);
            int[] v = new int[1];
            cuDeviceGetAttribute(v, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, device);
            byte[] name = new byte[256];
            cuDeviceGetName(name, name.length, device);
            String deviceName = new String(name, StandardCharsets.US_ASCII).trim().replace("\0", "");
            byte[] cubin = KernelResources.read(KernelResources.CUBIN).orElseThrow(() -> new IllegalStateException(
                    "no " + KernelResources.CUBIN + " on the class path: the kernels module was built without nvcc"));
            Set<String> have = CubinSymbols.functions(cubin);
            for (KernelName k : KernelName.values()) {
                if (!have.contains(k.symbol())) {
                    throw new IllegalStateException("the cubin lacks kernel " + k.symbol() + "; it has " + have);
                }
            }
            CUmodule loaded = new CUmodule();
            String from = "sm_90a cubin";
            try {
                cuModuleLoadData(loaded, cubin);
            } catch (CudaException e) {
                byte[] ptx = KernelResources.read(KernelResources.PTX).orElseThrow(() -> e);
                LOG.log(System.Logger.Level.WARNING, "sm_90a cubin did not load ({0}); JIT-compiling the compute_90 PTX", e.getMessage());
                byte[] z = java.util.Arrays.copyOf(ptx, ptx.length + 1);  // the driver wants a NUL-terminated image
                cuModuleLoadData(loaded, z);
                from = "compute_90 PTX";
            }
            module = loaded;
            Map<KernelName, CUfunction> functions = new EnumMap<>(KernelName.class);
            for (KernelName k : KernelName.values()) {
                CUfunction f = new CUfunction();
                cuModuleGetFunction(f, module, k.symbol());
                functions.put(k, f);
            }
            CUstream stream = new CUstream();
            cuStreamCreate(stream, CUstream_flags.CU_STREAM_NON_BLOCKING);
            Driver driver = counter == null ? new JCudaCalls() : counter.wrap(new JCudaCalls());
            return new CudaContext(driver, device, context, module, stream, functions, v[0], deviceName, from);
        } catch (RuntimeException e) {
            if (module != null) {
                cuModuleUnload(module);
            }
            cuDevicePrimaryCtxRelease(device);
            throw e;
        }
    }

    public int multiprocessors() {
        return multiprocessors;
    }

    public String deviceName() {
        return deviceName;
    }

    public String loadedFrom() {
        return loadedFrom;
    }

    /** The context's one stream, for driver calls made elsewhere (bind first: {@link #makeCurrent()}). */
    public CUstream stream() {
        return stream;
    }

    public CUfunction function(KernelName k) {
        return functions.get(k);
    }

    public DeviceBuffer alloc(long bytes) {
        long n = Math.max(4, bytes);
        bindOutsideCapture("a device allocation");
        CUdeviceptr p = new CUdeviceptr();
        driver.alloc(p, n);
        return new DeviceBuffer(p, n, this);
    }

    public DeviceBuffer floats(long n) {
        return alloc(4 * n);
    }

    /** Launches on this context's stream. Errors surface at the next synchronising call, as with any CUDA launch. */
    public void launch(KernelName k, LaunchGeometry g, Object... args) {
        makeCurrent();
        driver.launch(functions.get(k), g, stream, args);
    }

    /**
     * Binds this context to the calling thread. Every method here does it before issuing work; call it before driver
     * calls made elsewhere with this context's handles (events, graphs, the staging copies).
     */
    public void makeCurrent() {
        driver.setCurrent(context);
    }

    /** Waits for the stream; refused while it is being captured (a graph cannot wait for the host). */
    public void sync() {
        bindOutsideCapture("a stream synchronisation");
        driver.synchronize(stream);
    }

    /**
     * Copies a Java array into device memory, ordered after the work already on the stream; returns once the copy
     * is done, as the synchronous copy it replaces did.
     */
    void copyToDevice(CUdeviceptr dst, Pointer src, long bytes) {
        bindOutsideCapture("a copy from a Java array");
        driver.copyToDevice(dst, src, bytes, stream);
        driver.synchronize(stream);
    }

    /** Copies device memory into a Java array once the work already on the stream is done. */
    void copyToHost(Pointer dst, CUdeviceptr src, long bytes) {
        bindOutsideCapture("a copy into a Java array");
        driver.copyToHost(dst, src, bytes, stream);
        driver.synchronize(stream);
    }

    /**
     * A 2-D copy on the stream. One with a host side (a Java array) returns once it is done and is refused during a
     * capture; a device-to-device copy is stream work like a launch (and captured like one).
     */
    void copy2D(CUDA_MEMCPY2D copy) {
        boolean host = copy.srcMemoryType == CUmemorytype.CU_MEMORYTYPE_HOST
                || copy.dstMemoryType == CUmemorytype.CU_MEMORYTYPE_HOST;
        if (host) {
            bindOutsideCapture(copy.srcMemoryType == CUmemorytype.CU_MEMORYTYPE_HOST ? "a copy from a Java array"
                    : "a copy into a Java array");
            driver.copy2D(copy, stream);
            driver.synchronize(stream);
        } else {
            makeCurrent();
            driver.copy2D(copy, stream);
        }
    }

    /** Fills rows of 32-bit words, ordered on the stream (and captured like a launch). */
    void fill2D32(CUdeviceptr dst, long pitch, int pattern, long width, long height) {
        makeCurrent();
        driver.fill2D32(dst, pitch, pattern, width, height, stream);
    }

    /** Fills 32-bit words, ordered on the stream (and captured into a graph like a launch). */
    void fill32(CUdeviceptr dst, int pattern, long words) {
        makeCurrent();
        driver.fill32(dst, pattern, words, stream);
    }

    /** Frees device memory once the work already on the stream (which may still read it) is done. */
    void free(CUdeviceptr ptr) {
        bindOutsideCapture("freeing device memory");
        driver.synchronize(stream);
        driver.free(ptr);
    }

    /**
     * Starts recording this stream's work into a graph (thread-local mode: only this thread's driver calls can
     * invalidate it). Until {@link #endCapture} or {@link #discardCapture}, launches, fills and device-to-device copies
     * are recorded instead of run, and host copies and allocations are refused ({@link StepCaptureException}).
     */
    public void beginCapture() {
        makeCurrent();
        driver.beginCapture(stream);
    }

    /** Ends the capture and instantiates what it recorded: one launchable graph. */
    public CUgraphExec endCapture() {
        makeCurrent();
        CUgraph graph = new CUgraph();
        driver.endCapture(stream, graph);
        try {
            CUgraphExec exec = new CUgraphExec();
            driver.instantiate(exec, graph);
            return exec;
        } finally {
            driver.destroyGraph(graph);
        }
    }

    /** Ends a capture whose step failed and frees what it recorded. */
    public void discardCapture() {
        makeCurrent();
        CUgraph graph = new CUgraph();
        driver.endCapture(stream, graph);
        driver.destroyGraph(graph);
    }

    /** Runs a captured graph on the stream, as one launch; returns without waiting. */
    public void launchGraph(CUgraphExec exec) {
        makeCurrent();
        driver.launchGraph(exec, stream);
    }

    public void destroyGraph(CUgraphExec exec) {
        makeCurrent();
        driver.destroyGraphExec(exec);
    }

    private void bindOutsideCapture(String what) {
        makeCurrent();
        if (driver.capturing(stream)) {
            throw new StepCaptureException(what + " while the stream is being captured into a CUDA graph: a captured"
                    + " step may only launch kernels and issue stream-ordered device work");
        }
    }

    @Override
    public void close() {
        makeCurrent();
        driver.release(stream, module, device);
    }
}
