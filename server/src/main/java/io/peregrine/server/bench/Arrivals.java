package io.peregrine.server.bench;

import java.util.Random;

/**
 * When each request is sent, as nanoseconds after the start. As in vLLM's benchmark_serving with burstiness 1:
 * gaps are exponential with mean 1/rate (a Poisson process), the first one included; an infinite rate sends
 * everything at once.
 */
public final class Arrivals {
    private Arrivals() {}

    public static long[] offsetsNanos(int requests, double requestsPerSecond, long seed) {
        if (!(requestsPerSecond > 0)) {
            throw new IllegalArgumentException("request rate must be > 0 (or inf), got " + requestsPerSecond);
        }
        long[] offsets = new long[requests];
        if (Double.isInfinite(requestsPerSecond)) {
            return offsets;
        }
        Random r = new Random(seed);
        double t = 0;
        for (int i = 0; i < requests; i++) {
            // Inverse-CDF draw; 1 - u is in (0, 1] so the log is finite.
            t += -Math.log(1.0 - r.nextDouble()) / requestsPerSecond;
            offsets[i] = Math.round(t * 1e9);
        }
        return offsets;
    }
}
