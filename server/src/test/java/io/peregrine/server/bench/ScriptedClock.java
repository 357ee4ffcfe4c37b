package io.peregrine.server.bench;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A clock only the scripted server moves. The benchmark reads it once per data event it receives; the server
 * moves it, sends one event and waits for that read, so each event is stamped with exactly the scripted time.
 * Works with one request in flight at a time.
 */
final class ScriptedClock implements Ticker {
    private final AtomicLong now = new AtomicLong(TimeUnit.SECONDS.toNanos(1000));
    private final AtomicInteger reads = new AtomicInteger();

    @Override
    public long nanoTime() {
        reads.incrementAndGet();
        return now.get();
    }

    int reads() {
        return reads.get();
    }

    void advanceMillis(long millis) {
        now.addAndGet(TimeUnit.MILLISECONDS.toNanos(millis));
    }

    /** Waits until the clock has been read more than {@code count} times in all. */
    void awaitReadsAbove(int count) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (reads.get() <= count) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the benchmark did not read the clock for an event within 10 s");
            }
            Thread.sleep(1);
        }
    }
}
