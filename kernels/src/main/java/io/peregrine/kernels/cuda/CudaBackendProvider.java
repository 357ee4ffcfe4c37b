package io.peregrine.kernels.cuda;

import io.peregrine.engine.backend.Backend;
import io.peregrine.engine.backend.BackendProvider;
import java.util.Optional;

/**
 * The Hopper backend. Probing loads JCuda's driver bindings; on a machine without {@code libcuda} JCuda throws
 * a {@link LinkageError}, which is caught here once and reported as the reason the backend is unavailable.
 */
public final class CudaBackendProvider implements BackendProvider {
    /**
     * The kernels and their launch layer ({@link DeviceOps}) exist; the adapter from the engine's {@code Backend} ops
     * to them does not yet. Until it does, a machine with a usable GPU is also a reason to fall back, so that
     * {@code --backend auto} still starts on the CPU there instead of failing in {@link #create()}.
     */
    static final String ADAPTER_MISSING = "the CUDA kernels are built and the device is usable, but the engine Backend "
            + "adapter over DeviceOps is not written yet";

    private volatile Optional<String> probe;

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
        Optional<String> p = probe;
        if (p == null) {
            p = CudaProbe.probe().or(() -> Optional.of(ADAPTER_MISSING));
            probe = p;
        }
        return p;
    }

    @Override
    public Backend create() {
        Optional<String> why = unavailableReason();
        if (why.isPresent()) {
            throw new IllegalStateException("CUDA backend unavailable: " + why.get());
        }
        throw new IllegalStateException("CUDA backend unavailable: " + ADAPTER_MISSING);
    }
}
