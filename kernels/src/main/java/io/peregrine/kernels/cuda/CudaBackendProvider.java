package io.peregrine.kernels.cuda;

import io.peregrine.engine.backend.Backend;
import io.peregrine.engine.backend.BackendProvider;
import io.peregrine.engine.backend.DeviceRanks;
import io.peregrine.kernels.nccl.CudaRanks;
import io.peregrine.kernels.nccl.FfmNccl;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The Hopper backend. Probing loads JCuda's driver bindings; on a machine without {@code libcuda} JCuda throws
 * a {@link LinkageError}, which {@link CudaProbe} catches once and reports as the reason the backend is unavailable
 * (so {@code --backend auto} falls back to the CPU with one log line). With a usable device and the compiled cubin,
 * {@link #create()} opens a {@link CudaBackend} on device 0 with fp32 products.
 */
public final class CudaBackendProvider implements BackendProvider {
    private final Supplier<Optional<String>> probe;
    private final Supplier<Backend> factory;
    private volatile Optional<String> reason;

    public CudaBackendProvider() {
        this(CudaProbe::probe, () -> CudaBackend.open(0, CudaBackend.Options.FP32));
    }

    /** For tests: a probe answer and a backend factory in place of the driver's. */
    CudaBackendProvider(Supplier<Optional<String>> probe, Supplier<Backend> factory) {
        this.probe = probe;
        this.factory = factory;
    }

    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public int priority() {
        return 100;
    }

    @Override
    public Optional<String> unavailableReason() {
        Optional<String> r = reason;
        if (r == null) {
            r = probe.get();
            reason = r;
        }
        return r;
    }

    @Override
    public Backend create() {
        Optional<String> why = unavailableReason();
        if (why.isPresent()) {
            throw new IllegalStateException("CUDA backend unavailable: " + why.get());
        }
        return factory.get();
    }

    /**
     * One device per rank, NCCL between them ({@link CudaRanks}); {@code libnccl.so.2} missing is the start-up error
     * naming what to install. The visible devices are the driver's count, which already honours
     * {@code CUDA_VISIBLE_DEVICES}.
     */
    @Override
    public DeviceRanks deviceRanks() {
        Optional<String> why = unavailableReason();
        if (why.isPresent()) {
            throw new IllegalStateException("CUDA backend unavailable: " + why.get());
        }
        FfmNccl nccl = FfmNccl.load();
        int[] count = new int[1];
        jcuda.driver.JCudaDriver.cuDeviceGetCount(count);
        return new CudaRanks(nccl, ordinal -> CudaBackend.open(ordinal, CudaBackend.Options.FP32), count[0]);
    }
}
