package io.peregrine.server.bench;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The line that says how far a run is. On a terminal it redraws itself in place; into a log (no console) it
 * prints a fresh line each interval so soak logs stay readable.
 */
final class Progress implements AutoCloseable {
    private final PrintWriter out;
    private final int total;
    private final boolean inPlace;
    private final long startNanos = System.nanoTime();
    final AtomicInteger done = new AtomicInteger();
    final AtomicInteger failed = new AtomicInteger();
    private final Thread ticker;

    Progress(PrintWriter out, int total, Duration interval, boolean inPlace) {
        this.out = out;
        this.total = total;
        this.inPlace = inPlace;
        this.ticker = Thread.ofPlatform().daemon().name("bench-progress").start(() -> {
            try {
                while (!Thread.currentThread().isInterrupted()) {
                    Thread.sleep(interval.toMillis());
                    print(false);
                }
            } catch (InterruptedException e) {
                // closed
            }
        });
    }

    void finished(boolean ok) {
        done.incrementAndGet();
        if (!ok) {
            failed.incrementAndGet();
        }
    }

    private synchronized void print(boolean last) {
        int d = done.get();
        double secs = (System.nanoTime() - startNanos) / 1e9;
        int width = 30;
        int filled = total == 0 ? width : (int) ((long) d * width / total);
        String line = String.format("[%s%s] %d/%d requests, %d failed, %.1f s, %.2f req/s", "#".repeat(filled),
                ".".repeat(width - filled), d, total, failed.get(), secs, secs > 0 ? d / secs : 0.0);
        if (inPlace) {
            out.print("\r" + line + (last ? "\n" : ""));
        } else {
            out.println(line);
        }
        out.flush();
    }

    @Override
    public void close() {
        ticker.interrupt();
        try {
            ticker.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        print(true);
    }
}
