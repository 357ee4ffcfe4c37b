package io.peregrine.server.bench;

import java.net.URI;
import java.time.Duration;

/**
 * How to drive the server.
 *
 * @param baseUrl          scheme, host and port (and any path prefix) of the server, without {@code /v1}
 * @param model            the {@code model} field; null asks {@code GET /v1/models} for the first one
 * @param apiKey           sent as {@code Authorization: Bearer}; null for none
 * @param maxConcurrency   most requests in flight at once; 0 for no limit
 * @param requestRate      requests per second (Poisson arrivals); infinite sends all at once
 * @param burstiness       shape of the gamma-distributed gaps (1: Poisson), as vLLM's {@code --burstiness}
 * @param imagesPerRequest chat only: generated PNG images added to each prompt
 * @param checkMetrics     after the run, require /metrics to show nothing running or waiting and KV usage back
 *                         to its level before the run
 * @param kvTolerance      how far above its pre-run level KV usage may settle (fraction, 0..1)
 * @param metricsPath      where the server exposes Prometheus metrics ({@code /metrics}; NIM: {@code /v1/metrics})
 */
public record BenchOptions(
        URI baseUrl,
        Endpoint endpoint,
        String model,
        String apiKey,
        int maxConcurrency,
        double requestRate,
        double burstiness,
        long seed,
        boolean stream,
        boolean ignoreEos,
        int imagesPerRequest,
        int imageSize,
        double disconnectRate,
        double malformedRate,
        double slowReaderRate,
        Duration slowReaderPause,
        Duration requestTimeout,
        boolean checkMetrics,
        Duration idleTimeout,
        double kvTolerance,
        String metricsPath) {

    public BenchOptions {
        String scheme = baseUrl.getScheme();
        if (!"http".equals(scheme) && !"https".equals(scheme)) {
            throw new IllegalArgumentException("base URL must be http:// or https://, got " + baseUrl);
        }
        if (maxConcurrency < 0) {
            throw new IllegalArgumentException("max concurrency must be >= 0 (0 = no limit), got " + maxConcurrency);
        }
        if (!(requestRate > 0)) {
            throw new IllegalArgumentException("request rate must be > 0 or inf, got " + requestRate);
        }
        if (!(burstiness > 0) || Double.isInfinite(burstiness)) {
            throw new IllegalArgumentException("burstiness must be a finite number > 0, got " + burstiness);
        }
        if (imagesPerRequest < 0 || (imagesPerRequest > 0 && endpoint != Endpoint.CHAT)) {
            throw new IllegalArgumentException("images per request must be >= 0, and only the chat endpoint takes "
                    + "images (got " + imagesPerRequest + " for " + endpoint.path() + ")");
        }
        double faults = faultRate(disconnectRate, malformedRate, slowReaderRate);
        if (disconnectRate < 0 || malformedRate < 0 || slowReaderRate < 0 || faults > 1.0 + 1e-9) {
            throw new IllegalArgumentException("fault rates must be >= 0 and sum to at most 1, got disconnect="
                    + disconnectRate + " malformed=" + malformedRate + " slow-reader=" + slowReaderRate);
        }
        if (faults > 0 && "https".equals(scheme)) {
            throw new IllegalArgumentException("fault mode talks raw HTTP/1.1 over a socket and needs an http:// URL");
        }
        if (kvTolerance < 0 || kvTolerance > 1) {
            throw new IllegalArgumentException("KV tolerance must be in [0, 1], got " + kvTolerance);
        }
        if (metricsPath == null || !metricsPath.startsWith("/")) {
            throw new IllegalArgumentException("metrics path must start with /, got " + metricsPath);
        }
        String s = baseUrl.toString();
        baseUrl = URI.create(s.endsWith("/") ? s.substring(0, s.length() - 1) : s);
    }

    public boolean faultMode() {
        return faultRate(disconnectRate, malformedRate, slowReaderRate) > 0;
    }

    private static double faultRate(double d, double m, double s) {
        return d + m + s;
    }

    public URI url(String path) {
        return URI.create(baseUrl + path);
    }

    public BenchOptions withModel(String m) {
        return new BenchOptions(baseUrl, endpoint, m, apiKey, maxConcurrency, requestRate, burstiness, seed, stream,
                ignoreEos, imagesPerRequest, imageSize, disconnectRate, malformedRate, slowReaderRate, slowReaderPause,
                requestTimeout, checkMetrics, idleTimeout, kvTolerance, metricsPath);
    }
}
