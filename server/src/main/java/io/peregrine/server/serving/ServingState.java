package io.peregrine.server.serving;

import io.peregrine.engine.runtime.EngineStats;
import io.peregrine.server.http.ApiException;

/**
 * Where the server is in its life: loading (with progress), ready, failed (to load, or later its engine), or
 * draining. The HTTP server starts before
 * the model has loaded so that liveness and readiness probes answer during a long load.
 */
public final class ServingState {
    public enum Phase { LOADING, READY, FAILED, DRAINING }

    private static final EngineStats IDLE = new EngineStats(0, 0, 0.0, 0, 0, 0, 0, 0, 0);

    private volatile ModelRuntime runtime;
    private volatile Phase phase = Phase.LOADING;
    private volatile double progress;
    private volatile String detail = "starting";
    private volatile boolean engineFailed;

    public void loading(double fraction, String what) {
        this.progress = Math.clamp(fraction, 0.0, 1.0);
        this.detail = what;
    }

    public void ready(ModelRuntime loaded) {
        this.runtime = loaded;
        this.progress = 1.0;
        this.detail = "ready";
        this.phase = Phase.READY;
    }

    public void failed(String why) {
        this.detail = why;
        this.phase = Phase.FAILED;
    }

    /**
     * The loaded engine's model can no longer run (a worker rank of a sharded model died): liveness, readiness and
     * new requests answer 503 from now on. Ordinary per-request errors never come here.
     */
    public void engineFailed(String why) {
        this.detail = why;
        this.engineFailed = true;
        this.phase = Phase.FAILED;
    }

    /** Liveness ({@code /health}): false once the engine has failed; a loading or draining server is alive. */
    public boolean alive() {
        return !engineFailed;
    }

    public void draining() {
        this.detail = "shutting down";
        this.phase = Phase.DRAINING;
    }

    public Phase phase() {
        return phase;
    }

    public double progress() {
        return progress;
    }

    public String detail() {
        return detail;
    }

    /** The runtime, for endpoints that only read model facts (e.g. /v1/models); null while loading. */
    public ModelRuntime runtimeOrNull() {
        return runtime;
    }

    /** The runtime for a request that will do work, or the 503 that explains why there is none. */
    public ModelRuntime requireServing() throws ApiException {
        return switch (phase) {
            case READY -> runtime;
            case LOADING -> throw ApiException.unavailable(
                    "The model is still loading (" + Math.round(progress * 100) + "%: " + detail + ")", "not_ready");
            case FAILED -> throw engineFailed
                    ? ApiException.unavailable("The engine failed: " + detail, "engine_failed")
                    : ApiException.unavailable("The model failed to load: " + detail, "load_failed");
            case DRAINING -> throw ApiException.unavailable("The server is shutting down", "shutting_down");
        };
    }

    public EngineStats stats() {
        ModelRuntime r = runtime;
        return r == null ? IDLE : r.engine().stats();
    }
}
