package io.peregrine.api.health;

/**
 * The readiness endpoint's body (NIM-style {@code object}/{@code status}), with load progress.
 *
 * @param status   "ready", "loading", "failed" or "shutting_down"
 * @param progress 0..1 of the model load
 */
public record Readiness(String object, String status, double progress, String message) {
    public Readiness(String status, double progress, String message) {
        this("health.response", status, progress, message);
    }
}
