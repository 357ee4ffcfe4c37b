package io.peregrine.engine.backend;

/** A recorded step ({@link StepGraphs#capture}): launching it runs every recorded operation again, in order. */
public interface StepGraph extends AutoCloseable {

    /** Queues the whole recorded step as one launch; returns without waiting, like any backend operation. */
    void launch();

    /** Frees the recorded graph. */
    @Override
    void close();
}
