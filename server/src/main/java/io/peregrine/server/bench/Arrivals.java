package io.peregrine.server.bench;

import java.util.Random;

/**
 * When each request is sent, as nanoseconds after the start. As in vLLM's benchmark_serving: gaps are drawn
 * from a gamma distribution with shape {@code burstiness} and mean 1/rate, the first one included. Burstiness
 * 1 is a Poisson process (exponential gaps); below 1 arrivals come in bursts, above 1 more evenly. An infinite
 * rate sends everything at once.
 */
public final class Arrivals {
    private Arrivals() {}

    /** Poisson arrivals (burstiness 1). */
    public static long[] offsetsNanos(int requests, double requestsPerSecond, long seed) {
        return offsetsNanos(requests, requestsPerSecond, 1.0, seed);
    }

    public static long[] offsetsNanos(int requests, double requestsPerSecond, double burstiness, long seed) {
        if (!(requestsPerSecond > 0)) {
            throw new IllegalArgumentException("request rate must be > 0 (or inf), got " + requestsPerSecond);
        }
        if (!(burstiness > 0) || Double.isInfinite(burstiness)) {
            throw new IllegalArgumentException("burstiness must be a finite number > 0, got " + burstiness);
        }
        long[] offsets = new long[requests];
        if (Double.isInfinite(requestsPerSecond)) {
            return offsets;
        }
        Random r = new Random(seed);
        double scale = 1.0 / (requestsPerSecond * burstiness);
        double t = 0;
        for (int i = 0; i < requests; i++) {
            t += (burstiness == 1.0 ? exponential(r) : gamma(r, burstiness)) * scale;
            offsets[i] = Math.round(t * 1e9);
        }
        return offsets;
    }

    private static double exponential(Random r) {
        return -Math.log(1.0 - r.nextDouble()); // 1 - u is in (0, 1]: the log is finite
    }

    /**
     * A unit-scale gamma draw by Marsaglia and Tsang's method (ACM TOMS 26(3), 2000); shapes below 1 use
     * Gamma(a) = Gamma(a + 1) * U^(1/a). Hand-written: the JDK has no gamma sampler and this is all we need
     * of a statistics library.
     */
    static double gamma(Random r, double shape) {
        if (shape < 1) {
            return gamma(r, shape + 1) * Math.pow(1.0 - r.nextDouble(), 1.0 / shape);
        }
        double d = shape - 1.0 / 3;
        double c = 1 / Math.sqrt(9 * d);
        while (true) {
            double x;
            double v;
            do {
                x = r.nextGaussian();
                v = 1 + c * x;
            } while (v <= 0);
            v = v * v * v;
            double u = 1.0 - r.nextDouble();
            if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) {
                return d * v;
            }
        }
    }
}
