package io.peregrine.kernels.cuda;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuDeviceGetName;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuModuleUnload;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;

import java.nio.charset.StandardCharsets;
import java.util.EnumMap;
import java.util.Map;
import java.util.Set;
import jcuda.CudaException;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/**
 * One device's primary context, the Peregrine module loaded into it ({@code cuModuleLoadData} on the sm_90a cubin,
 * the compute_90 PTX when the cubin does not load) with every {@link KernelName} resolved, and one stream. JCuda's
 * exceptions are on: every driver call checks its return code.
 */
public final class CudaContext implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(CudaContext.class.getName());

    private final CUdevice device = new CUdevice();
    private final CUcontext context = new CUcontext();
    private final CUmodule module = new CUmodule();
    private final CUstream stream = new CUstream();
    private final Map<KernelName, CUfunction> functions = new EnumMap<>(KernelName.class);
    private final int multiprocessors;
    private final String deviceName;
    private final String loadedFrom;

    private CudaContext(int ordinal) {
        JCudaDriver.setExceptionsEnabled(true);
        cuInit(0);
        cuDeviceGet(device, ordinal);
        cuDevicePrimaryCtxRetain(context, device);
        cuCtxSetCurrent(context);
        int[] v = new int[1];
        cuDeviceGetAttribute(v, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, device);
        multiprocessors = v[0];
        byte[] name = new byte[256];
        cuDeviceGetName(name, name.length, device);
        deviceName = new String(name, StandardCharsets.US_ASCII).trim().replace("\0", "");
        byte[] cubin = KernelResources.read(KernelResources.CUBIN).orElseThrow(() -> new IllegalStateException(
                "no " + KernelResources.CUBIN + " on the class path: the kernels module was built without nvcc"));
        Set<String> have = CubinSymbols.functions(cubin);
        for (KernelName k : KernelName.values()) {
            if (!have.contains(k.symbol())) {
                throw new IllegalStateException("the cubin lacks kernel " + k.symbol() + "; it has " + have);
            }
        }
        String from = "sm_90a cubin";
        try {
            cuModuleLoadData(module, cubin);
        } catch (CudaException e) {
            byte[] ptx = KernelResources.read(KernelResources.PTX).orElseThrow(() -> e);
            LOG.log(System.Logger.Level.WARNING, "sm_90a cubin did not load ({0}); JIT-compiling the compute_90 PTX", e.getMessage());
            byte[] z = java.util.Arrays.copyOf(ptx, ptx.length + 1);  // the driver wants a NUL-terminated image
            cuModuleLoadData(module, z);
            from = "compute_90 PTX";
        }
        loadedFrom = from;
        for (KernelName k : KernelName.values()) {
            CUfunction f = new CUfunction();
            cuModuleGetFunction(f, module, k.symbol());
            functions.put(k, f);
        }
        cuStreamCreate(stream, 0);
    }

    public static CudaContext open(int ordinal) {
        return new CudaContext(ordinal);
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

    public CUstream stream() {
        return stream;
    }

    public CUfunction function(KernelName k) {
        return functions.get(k);
    }

    public DeviceBuffer alloc(long bytes) {
        CUdeviceptr p = new CUdeviceptr();
        cuMemAlloc(p, Math.max(4, bytes));
        return new DeviceBuffer(p, Math.max(4, bytes));
    }

    public DeviceBuffer floats(long n) {
        return alloc(4 * n);
    }

    /** Launches on this context's stream. Errors surface at the next synchronising call, as with any CUDA launch. */
    public void launch(KernelName k, LaunchGeometry g, Object... args) {
        cuLaunchKernel(functions.get(k), g.gridX(), g.gridY(), g.gridZ(), g.block(), 1, 1, g.sharedBytes(), stream,
                KernelArgs.encode(args), null);
    }

    /**
     * Binds this context to the calling thread. Driver calls act on the thread's current context, and the engine
     * loads the model on one thread and serves on another, so every entry point of a backend calls this first.
     */
    public void makeCurrent() {
        cuCtxSetCurrent(context);
    }

    public void sync() {
        cuStreamSynchronize(stream);
    }

    @Override
    public void close() {
        cuStreamDestroy(stream);
        cuModuleUnload(module);
        cuDevicePrimaryCtxRelease(device);
    }
}
