package io.peregrine.engine.backend;

/**
 * A backend's capability to record a step's operations once and replay them with one call (CUDA graphs). Only
 * buffers the backend allocated earlier may be touched by a recorded step, and it must not move data to or from the
 * host: a replay re-reads the same buffers, so the caller refreshes their contents (one upload) before each launch.
 * A backend without the capability has none ({@link Backend#stepGraphs()}).
 */
public interface StepGraphs {

    /**
     * Records the operations {@code step} issues on this backend, without running them, and makes them one
     * launchable graph. {@code step} runs once, on the calling thread, before this returns.
     *
     * @throws StepCaptureException when {@code step} asked for something a graph cannot hold (a copy to or from the
     *                              host, an allocation); the capture is then ended and discarded
     */
    StepGraph capture(Runnable step);
}
