package io.peregrine.server.bench;

/**
 * The clock requests are timed with. Runs use {@link #SYSTEM}; tests substitute a clock that a scripted server
 * moves, so timings come out exact instead of within scheduling noise.
 */
@FunctionalInterface
public interface Ticker {
    Ticker SYSTEM = System::nanoTime;

    long nanoTime();
}
