package io.peregrine.server.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.api.json.Json;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/** Sends measured (fault-free) requests with the JDK HttpClient and times their responses. */
public final class HttpBenchClient implements AutoCloseable {
    private final BenchOptions options;
    private final Ticker ticker;
    private final HttpClient http;
    private final ObjectMapper json = Json.newMapper();
    // Closes the body of a request that runs past --request-timeout, which ends its blocking read.
    private final ScheduledExecutorService watchdog = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "bench-watchdog");
        t.setDaemon(true);
        return t;
    });

    public HttpBenchClient(BenchOptions options, Ticker ticker) {
        this.options = options;
        this.ticker = ticker;
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10)).build();
    }

    HttpRequest.Builder request(String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(options.url(path)).timeout(options.requestTimeout());
        if (options.apiKey() != null) {
            b.header("Authorization", "Bearer " + options.apiKey());
        }
        return b;
    }

    /** GET a small text resource (models, metrics); non-200 is an IOException naming the status. */
    public String get(String path) throws IOException, InterruptedException {
        HttpResponse<String> r = http.send(request(path).GET().build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new IOException("GET " + path + " answered " + r.statusCode() + ": "
                    + StreamMeter.abbreviate(r.body()));
        }
        return r.body();
    }

    /** The first model id the server lists. */
    public String firstModel() throws IOException, InterruptedException {
        JsonNode data = json.readTree(get("/v1/models")).path("data");
        if (data.isEmpty() || !data.get(0).hasNonNull("id")) {
            throw new IOException("GET /v1/models listed no model; pass --model");
        }
        return data.get(0).get("id").asText();
    }

    public RequestOutcome send(int index, BenchPrompt prompt, String body) {
        HttpRequest req = request(options.endpoint().path()).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        long wallStart = System.nanoTime();
        long start = ticker.nanoTime();
        try {
            return options.stream() ? stream(index, prompt, req, start, wallStart) : whole(index, prompt, req, start);
        } catch (java.net.ConnectException e) {
            return RequestOutcome.failed(index, Fault.NONE, "cannot connect to " + options.baseUrl() + ": "
                    + describe(e));
        } catch (IOException e) {
            return RequestOutcome.failed(index, Fault.NONE, describe(e));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return RequestOutcome.failed(index, Fault.NONE, "interrupted");
        }
    }

    private RequestOutcome stream(int index, BenchPrompt prompt, HttpRequest req, long start, long wallStart)
            throws IOException, InterruptedException {
        HttpResponse<InputStream> r = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
        try (InputStream in = r.body()) {
            if (r.statusCode() != 200) {
                return httpError(index, r.statusCode(), new String(in.readAllBytes(), StandardCharsets.UTF_8));
            }
            // The timeout is wall-clock time, whatever clock the measurements use.
            long left = options.requestTimeout().toNanos() - (System.nanoTime() - wallStart);
            ScheduledFuture<?> cut = watchdog.schedule(() -> closeQuietly(in), Math.max(left, 0),
                    TimeUnit.NANOSECONDS);
            StreamMeter meter = new StreamMeter(json, ticker, start);
            try {
                BufferedReader lines = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
                String line;
                while (!meter.done() && (line = lines.readLine()) != null) {
                    meter.line(line);
                }
            } catch (IOException e) {
                if (cut.isDone()) {
                    return RequestOutcome.failed(index, Fault.NONE, "timed out after " + options.requestTimeout());
                }
                throw e;
            } finally {
                cut.cancel(false);
            }
            return meter.outcome(index, prompt);
        }
    }

    private RequestOutcome whole(int index, BenchPrompt prompt, HttpRequest req, long start)
            throws IOException, InterruptedException {
        HttpResponse<String> r = http.send(req, HttpResponse.BodyHandlers.ofString());
        long end = ticker.nanoTime();
        if (r.statusCode() != 200) {
            return httpError(index, r.statusCode(), r.body());
        }
        JsonNode body = json.readTree(r.body());
        JsonNode usage = body.path("usage");
        int promptTokens = usage.path("prompt_tokens").asInt(Math.max(prompt.promptTokens(), 0));
        int outputTokens = usage.path("completion_tokens").asInt(-1);
        if (outputTokens < 0) {
            return RequestOutcome.failed(index, Fault.NONE, "response has no usage.completion_tokens");
        }
        // Without a stream the first token arrives with the last: TTFT is the whole latency, as in vLLM.
        return new RequestOutcome(index, Fault.NONE, true, promptTokens, outputTokens, end - start, new long[0],
                end - start, null);
    }

    private RequestOutcome httpError(int index, int status, String body) {
        String message;
        try {
            message = json.readTree(body).path("error").path("message").asText(body);
        } catch (IOException e) {
            message = body;
        }
        return RequestOutcome.failed(index, Fault.NONE, "HTTP " + status + ": " + StreamMeter.abbreviate(message));
    }

    /** Class and message, taking the message from a cause when the JDK leaves it null (ConnectException does). */
    static String describe(Throwable e) {
        String m = e.getMessage();
        for (Throwable c = e.getCause(); (m == null || m.isBlank()) && c != null; c = c.getCause()) {
            m = c.getMessage();
        }
        return e.getClass().getSimpleName() + (m == null || m.isBlank() ? "" : ": " + m);
    }

    private static void closeQuietly(InputStream in) {
        try {
            in.close();
        } catch (IOException ignored) {
            // the reader sees the close either way
        }
    }

    @Override
    public void close() {
        watchdog.shutdownNow();
        http.close();
    }
}
