package io.peregrine.engine.runtime;

/**
 * Receives a request's events. Called on the engine thread: implementations hand the event to their own
 * thread (the server's event loop) and return at once; they must never block the engine.
 */
@FunctionalInterface
public interface EventSink {
    void accept(EngineEvent event);
}
