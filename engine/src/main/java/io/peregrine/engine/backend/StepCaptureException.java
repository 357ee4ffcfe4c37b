package io.peregrine.engine.backend;

/**
 * A step being recorded into a graph ({@link StepGraphs#capture}) asked for something a graph cannot hold: a copy
 * to or from host memory (a host synchronisation), or an allocation. The capture is discarded; the step can still run
 * eagerly.
 */
public final class StepCaptureException extends IllegalStateException {
    public StepCaptureException(String message) {
        super(message);
    }
}
