package io.peregrine.server.bench;

import java.io.IOException;
import java.time.Duration;

/**
 * After a run: polls /metrics until nothing is running or waiting and KV usage is back to its level before the
 * run (within a tolerance), or the timeout passes. A leaked request or block shows as a verdict that failed.
 */
public final class IdleCheck {

    /** @param problem null when idle, else what stayed busy */
    public record Verdict(boolean idle, ServerLoad before, ServerLoad after, Duration waited, String problem) {}

    /** Where the numbers come from; the HTTP client in a run, a stub in tests. */
    @FunctionalInterface
    public interface MetricsSource {
        String scrape() throws IOException, InterruptedException;
    }

    private IdleCheck() {}

    public static Verdict await(MetricsSource source, ServerLoad before, Duration timeout, double kvTolerance)
            throws IOException, InterruptedException {
        long start = System.nanoTime();
        long deadline = start + timeout.toNanos();
        while (true) {
            ServerLoad now = ServerLoad.parse(source.scrape());
            String problem = problem(before, now, kvTolerance);
            Duration waited = Duration.ofNanos(System.nanoTime() - start);
            if (problem == null) {
                return new Verdict(true, before, now, waited, null);
            }
            if (System.nanoTime() >= deadline) {
                return new Verdict(false, before, now, waited, problem);
            }
            Thread.sleep(100);
        }
    }

    static String problem(ServerLoad before, ServerLoad now, double kvTolerance) {
        StringBuilder p = new StringBuilder();
        if (now.running() != 0) {
            p.append(now.runningName()).append(" = ").append(now.running()).append(" (expected 0); ");
        }
        if (now.waiting() != 0) {
            p.append(now.waitingName()).append(" = ").append(now.waiting()).append(" (expected 0); ");
        }
        if (now.kvCacheUsage() > before.kvCacheUsage() + kvTolerance + 1e-9) {
            p.append(String.format("%s = %.4f, above its pre-run level %.4f + tolerance %.4f; ", now.kvName(),
                    now.kvCacheUsage(), before.kvCacheUsage(), kvTolerance));
        }
        return p.isEmpty() ? null : p.substring(0, p.length() - 2);
    }
}
