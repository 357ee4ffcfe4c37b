package io.peregrine.kernels.cuda;

import io.peregrine.engine.backend.Backend;
import io.peregrine.engine.backend.BackendProvider;
import java.util.Optional;

/**
 * The Hopper backend. Probing loads JCuda's driver bindings; on a machine without {@code libcuda} JCuda throws
 * a {@link LinkageError}, which is caught here once and reported as the reason the backend is unavailable.
 */
public final class CudaBackendProvider implements BackendProvider {
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
            p = CudaProbe.probe();
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
        // The kernels and their launch layer (DeviceOps) are here; the adapter from the engine's Backend ops to them is
        // written once those ops are settled, so a usable device still falls back to the CPU with this reason.
        throw new IllegalStateException("CUDA backend unavailable: the engine Backend adapter over DeviceOps is not written yet");
    }
}
