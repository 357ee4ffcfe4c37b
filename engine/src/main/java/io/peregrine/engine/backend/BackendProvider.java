package io.peregrine.engine.backend;

import java.util.Optional;

/**
 * Found with {@link java.util.ServiceLoader}; each backend module registers one in
 * {@code META-INF/services/io.peregrine.engine.backend.BackendProvider}. The engine never names a concrete
 * backend class, so it builds and tests without CUDA on the class path.
 */
public interface BackendProvider {

    /** The name users pass to {@code --backend}. */
    String name();

    /** When several providers are usable and none was asked for, the highest priority wins. */
    int priority();

    /**
     * Why this backend cannot run on this machine (no driver, no device, kernels missing), or empty when it
     * can. Must not throw: a missing native library is a reason, not an error.
     */
    Optional<String> unavailableReason();

    Backend create();

    /**
     * A backend whose host compute pool has {@code threads} threads ({@code serve --threads}), batch-invariant or
     * not. A backend without such a pool says so instead of ignoring the count.
     *
     * @throws UnsupportedOperationException when this backend has no host compute pool to size
     */
    default Backend create(int threads, boolean batchInvariant) {
        throw new UnsupportedOperationException("the " + name() + " backend has no host compute pool to size");
    }

    /**
     * A backend whose products give each token the same bits whatever else shares the call (vLLM's
     * batch-invariant mode): a seeded request then samples the same tokens alone or next to others, at some cost in
     * speed. A backend that cannot promise that says so instead of ignoring the request.
     *
     * @throws UnsupportedOperationException when this backend has no batch-invariant mode
     */
    default Backend createBatchInvariant() {
        throw new UnsupportedOperationException("the " + name() + " backend has no batch-invariant mode");
    }

    /**
     * One device per rank for {@code --tensor-parallel-size} above 1 ({@link DeviceRanks}). A backend whose ranks
     * meet over the host group alone (the CPU) has none.
     *
     * @throws UnsupportedOperationException when this backend runs no device ranks
     * @throws IllegalStateException         when its collective library is missing (the message says what to install)
     */
    default DeviceRanks deviceRanks() {
        throw new UnsupportedOperationException("the " + name() + " backend has no device ranks");
    }
}
