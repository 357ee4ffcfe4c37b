package io.peregrine.server.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.api.json.Json;
import io.peregrine.server.bench.BenchOptions;
import io.peregrine.server.bench.BenchPrompt;
import io.peregrine.server.bench.BenchRunner;
import io.peregrine.server.bench.Endpoint;
import io.peregrine.server.bench.JsonlPrompts;
import io.peregrine.server.bench.RandomPrompts;
import io.peregrine.server.bench.ResultReport;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code peregrine bench}: a serving benchmark for any OpenAI-compatible server, with vLLM benchmark_serving's
 * flag names and metric definitions, plus a fault mode that abuses the server and then checks through
 * /metrics that it went back to idle. Exit codes: 0 ok, 1 the idle check failed, every measured request
 * failed, or (with {@code --fail-on-errors}) any request failed unexpectedly, 2 bad arguments or input, 3 the
 * server could not be reached or read.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmark an OpenAI-compatible server; optionally abuse it and check it recovers.",
        footer = {"", "Metric definitions follow vLLM's benchmark_serving; see docs/performance.md (Serving).",
                "Exit status:", "  0  done",
                "  1  the idle check failed, every measured request failed, or (--fail-on-errors) any failed",
                "  2  bad arguments or input file", "  3  the server could not be reached"})
public final class BenchCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--base-url", defaultValue = "http://127.0.0.1:8000",
            description = "Server URL without /v1 (default: ${DEFAULT-VALUE}).")
    URI baseUrl;

    @Option(names = "--endpoint", defaultValue = "chat",
            description = "chat (/v1/chat/completions) or completions (/v1/completions); default: ${DEFAULT-VALUE}.")
    String endpoint;

    @Option(names = "--model", description = "The model field (default: the first of GET /v1/models).")
    String model;

    @Option(names = "--api-key", description = "Bearer key (default: env OPENAI_API_KEY, then PEREGRINE_API_KEY).")
    String apiKey;

    @Option(names = "--num-prompts", defaultValue = "100",
            description = "Requests to send (default: ${DEFAULT-VALUE}).")
    int numPrompts;

    @Option(names = "--max-concurrency", defaultValue = "0",
            description = "Most requests in flight; with the default infinite rate this is fixed-concurrency "
                    + "load. 0: no limit (default).")
    int maxConcurrency;

    @Option(names = "--request-rate", defaultValue = "inf",
            description = "Requests per second, Poisson arrivals (default: ${DEFAULT-VALUE}: all at once).")
    String requestRate;

    @Option(names = "--burstiness", defaultValue = "1.0",
            description = "Gamma shape of the gaps between arrivals, as vLLM's: 1 Poisson (default), below 1 "
                    + "bursty, above 1 more even.")
    double burstiness;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of prompts, arrivals and faults.")
    long seed;

    @Option(names = "--dataset-name", defaultValue = "random",
            description = "random or jsonl (default: ${DEFAULT-VALUE}).")
    String datasetName;

    @Option(names = "--dataset-path", description = "JSONL file of {\"prompt\": ..., \"output_len\": ...} lines.")
    Path datasetPath;

    @Option(names = "--random-input-len", defaultValue = "1024",
            description = "Words per random prompt (default: ${DEFAULT-VALUE}).")
    int inputLen;

    @Option(names = "--random-output-len", defaultValue = "128",
            description = "Output tokens asked for (also the JSONL default; default: ${DEFAULT-VALUE}).")
    int outputLen;

    @Option(names = "--random-range-ratio", defaultValue = "0",
            description = "Random lengths vary uniformly by this fraction (default: ${DEFAULT-VALUE}).")
    double rangeRatio;

    @Option(names = "--images-per-request", defaultValue = "0",
            description = "Generated PNG images (data URLs) per chat request (default: ${DEFAULT-VALUE}).")
    int imagesPerRequest;

    @Option(names = "--image-size", defaultValue = "448", description = "Side of the generated images in pixels.")
    int imageSize;

    @Option(names = "--stream", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Stream responses (default: on; --no-stream measures whole responses).")
    boolean stream;

    @Option(names = "--ignore-eos", description = "Send ignore_eos so every request generates its full output length.")
    boolean ignoreEos;

    @Option(names = "--disconnect-rate", defaultValue = "0",
            description = "Share of requests that hang up mid-stream.")
    double disconnectRate;

    @Option(names = "--malformed-rate", defaultValue = "0", description = "Share of requests sent broken.")
    double malformedRate;

    @Option(names = "--slow-reader-rate", defaultValue = "0",
            description = "Share of requests that stop reading their stream, then hang up.")
    double slowReaderRate;

    @Option(names = "--slow-reader-pause", defaultValue = "2", description = "Seconds a slow reader stops reading.")
    double slowReaderPause;

    @Option(names = "--request-timeout", defaultValue = "600", description = "Seconds one request may take.")
    double requestTimeout;

    @Option(names = "--check-metrics", negatable = true,
            description = "After the run, require /metrics to show no running or waiting requests and KV usage "
                    + "back to its pre-run level (default: on in fault mode, off otherwise).")
    Boolean checkMetrics;

    @Option(names = "--idle-timeout", defaultValue = "30", description = "Seconds the idle check waits.")
    double idleTimeout;

    @Option(names = "--kv-idle-tolerance", defaultValue = "0",
            description = "How far above its pre-run level KV usage may settle (fraction; a prefix cache may "
                    + "keep blocks).")
    double kvTolerance;

    @Option(names = "--metrics-path", defaultValue = "/metrics",
            description = "Path of the Prometheus metrics (default: ${DEFAULT-VALUE}; NVIDIA NIM: /v1/metrics).")
    String metricsPath;

    @Option(names = "--fail-on-errors", description = "Exit 1 when any request failed unexpectedly.")
    boolean failOnErrors;

    @Option(names = "--result-json", paramLabel = "FILE", description = "Also write the results as JSON.")
    Path resultJson;

    @Option(names = "--progress-interval", defaultValue = "0.5", description = "Seconds between progress lines.")
    double progressInterval;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        BenchOptions options;
        List<BenchPrompt> prompts;
        try {
            options = options();
            prompts = prompts();
        } catch (IllegalArgumentException | IOException e) {
            err.println("peregrine bench: " + e.getMessage());
            return 2;
        }
        BenchRunner.Report report;
        try {
            // Redraw the progress line in place only on a terminal; a log gets one line per interval.
            boolean terminal = System.console() != null && System.console().isTerminal();
            report = BenchRunner.run(options, prompts, err, seconds(progressInterval), terminal);
        } catch (IOException | IllegalArgumentException e) {
            err.println("peregrine bench: cannot benchmark " + baseUrl + ": " + e.getMessage());
            return 3;
        }
        out.print(ResultReport.table(report));
        out.flush();
        if (resultJson != null) {
            ObjectMapper json = Json.newMapper();
            Files.writeString(resultJson, json.writerWithDefaultPrettyPrinter()
                    .writeValueAsString(ResultReport.json(report)) + "\n");
        }
        if (report.idle() != null && !report.idle().idle()) {
            err.println("peregrine bench: FAILED: the server did not return to idle within "
                    + report.idle().waited().toMillis() + " ms: " + report.idle().problem());
            return 1;
        }
        if (report.result().completed() == 0 && report.result().failed() > 0) {
            err.println("peregrine bench: FAILED: all " + report.result().failed() + " measured requests failed"
                    + " (see Errors above)");
            return 1;
        }
        if (failOnErrors && report.result().unexpectedFailures() > 0) {
            err.println("peregrine bench: FAILED: " + report.result().unexpectedFailures()
                    + " request(s) failed unexpectedly (see Errors above)");
            return 1;
        }
        return 0;
    }

    BenchOptions options() {
        if (numPrompts < 1) {
            throw new IllegalArgumentException("--num-prompts must be >= 1, got " + numPrompts);
        }
        String key = apiKey != null ? apiKey : env("OPENAI_API_KEY") != null ? env("OPENAI_API_KEY")
                : env("PEREGRINE_API_KEY");
        boolean faults = disconnectRate + malformedRate + slowReaderRate > 0;
        return new BenchOptions(baseUrl, Endpoint.parse(endpoint), model, key, maxConcurrency, rate(), burstiness,
                seed, stream, ignoreEos, imagesPerRequest, imageSize, disconnectRate, malformedRate, slowReaderRate,
                seconds(slowReaderPause), seconds(requestTimeout), checkMetrics != null ? checkMetrics : faults,
                seconds(idleTimeout), kvTolerance, metricsPath);
    }

    private double rate() {
        String r = requestRate.strip().toLowerCase(java.util.Locale.ROOT);
        if (r.equals("inf") || r.equals("infinity")) {
            return Double.POSITIVE_INFINITY;
        }
        try {
            return Double.parseDouble(r);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--request-rate must be a number of requests per second or inf, got "
                    + requestRate);
        }
    }

    List<BenchPrompt> prompts() throws IOException {
        return switch (datasetName) {
            case "random" -> RandomPrompts.generate(numPrompts, inputLen, outputLen, rangeRatio, seed);
            case "jsonl" -> {
                if (datasetPath == null) {
                    throw new IllegalArgumentException("--dataset-name jsonl needs --dataset-path FILE");
                }
                if (!Files.isRegularFile(datasetPath)) {
                    throw new IllegalArgumentException("--dataset-path " + datasetPath + ": no such file");
                }
                yield JsonlPrompts.read(datasetPath, numPrompts, outputLen);
            }
            default -> throw new IllegalArgumentException("--dataset-name must be random or jsonl, got " + datasetName);
        };
    }

    private static Duration seconds(double s) {
        if (!(s >= 0) || Double.isInfinite(s)) {
            throw new IllegalArgumentException("durations must be finite and >= 0 seconds, got " + s);
        }
        return Duration.ofNanos(Math.round(s * 1e9));
    }

    private static String env(String name) {
        String v = System.getenv(name);
        return v == null || v.isBlank() ? null : v.trim();
    }
}
