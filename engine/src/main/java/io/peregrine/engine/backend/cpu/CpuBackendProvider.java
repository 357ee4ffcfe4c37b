package io.peregrine.engine.backend.cpu;

import io.peregrine.engine.backend.Backend;
import io.peregrine.engine.backend.BackendProvider;
import java.util.Optional;

public final class CpuBackendProvider implements BackendProvider {
    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public int priority() {
        return 0;
    }

    @Override
    public Optional<String> unavailableReason() {
        return Optional.empty();
    }

    @Override
    public Backend create() {
        return new CpuBackend(Runtime.getRuntime().availableProcessors());
    }

    @Override
    public Backend create(int threads, boolean batchInvariant) {
        return new CpuBackend(threads, batchInvariant);
    }

    @Override
    public Backend createBatchInvariant() {
        return new CpuBackend(Runtime.getRuntime().availableProcessors(), true);
    }
}
