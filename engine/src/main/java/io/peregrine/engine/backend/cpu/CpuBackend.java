package io.peregrine.engine.backend.cpu;

import io.peregrine.engine.backend.Backend;

/** The reference backend: plain Java and the Vector API on the CPU. */
public final class CpuBackend implements Backend {
    private final int threads;

    public CpuBackend(int threads) {
        this.threads = threads;
    }

    public int threads() {
        return threads;
    }

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public void close() {}
}
