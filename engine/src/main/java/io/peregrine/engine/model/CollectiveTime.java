package io.peregrine.engine.model;

/** A rank's time in its step's collectives since it was built, and how many it ran (for the per-step log). */
public record CollectiveTime(long nanos, long calls) {
    public CollectiveTime minus(CollectiveTime earlier) {
        return new CollectiveTime(nanos - earlier.nanos, calls - earlier.calls);
    }
}
