package io.peregrine.server.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.peregrine.api.json.Json;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;

/**
 * Another vendor's OpenAI server, as far as the benchmark can tell: the k-th answer follows timing k of a
 * script. A stream opens with a role-only chunk at once, sends its first text after {@code firstMillis}, one
 * more text chunk after each of {@code gapsMillis}, then at once a finish chunk, and {@code usageMillis} later a
 * usage chunk. Answers report {@code promptTokens} and one completion token per text chunk. With a
 * {@link ScriptedClock} the pauses move that clock instead of sleeping.
 */
final class ScriptedOpenAiServer implements AutoCloseable {

    record Timing(long firstMillis, long[] gapsMillis, long usageMillis, int promptTokens) {
        int chunks() {
            return gapsMillis.length + 1;
        }

        long totalMillis() {
            return firstMillis + Arrays.stream(gapsMillis).sum() + usageMillis;
        }
    }

    final List<JsonNode> bodies = new CopyOnWriteArrayList<>();
    private final ObjectMapper json = Json.newMapper();
    private final HttpServer server;
    private final IntFunction<Timing> script;
    private final ScriptedClock clock;
    private final AtomicInteger answered = new AtomicInteger();
    volatile int failStatus;

    /** Every answer alike, in real time: {@code chunks} text chunks {@code gapMillis} apart. */
    ScriptedOpenAiServer(long firstMillis, long gapMillis, int chunks, int promptTokens) throws IOException {
        this(k -> {
            long[] gaps = new long[chunks - 1];
            Arrays.fill(gaps, gapMillis);
            return new Timing(firstMillis, gaps, 0, promptTokens);
        }, null);
    }

    ScriptedOpenAiServer(IntFunction<Timing> script, ScriptedClock clock) throws IOException {
        this.script = script;
        this.clock = clock;
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        server.createContext("/v1/models",
                ex -> reply(ex, 200, "{\"object\":\"list\",\"data\":[{\"id\":\"scripted-1\"}]}"));
        server.createContext("/v1/chat/completions", ex -> generate(ex, true));
        server.createContext("/v1/completions", ex -> generate(ex, false));
        server.start();
    }

    URI baseUrl() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    private void generate(HttpExchange ex, boolean chat) throws IOException {
        JsonNode body = json.readTree(ex.getRequestBody());
        bodies.add(body);
        if (failStatus != 0) {
            reply(ex, failStatus, "{\"error\":{\"message\":\"scripted failure\",\"type\":\"server_error\"}}");
            return;
        }
        Timing t = script.apply(answered.getAndIncrement());
        int chunks = t.chunks();
        String usage = "{\"prompt_tokens\":" + t.promptTokens() + ",\"completion_tokens\":" + chunks
                + ",\"total_tokens\":" + (t.promptTokens() + chunks) + "}";
        try {
            if (!body.path("stream").asBoolean()) {
                pause(t.totalMillis());
                String text = "x".repeat(chunks);
                String choice = chat ? "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"" + text + "\"}}"
                        : "{\"index\":0,\"text\":\"" + text + "\"}";
                reply(ex, 200, "{\"choices\":[" + choice + "],\"usage\":" + usage + "}");
                return;
            }
            ex.getResponseHeaders().add("Content-Type", "text/event-stream");
            ex.sendResponseHeaders(200, 0);
            try (OutputStream out = ex.getResponseBody()) {
                if (chat) {
                    event(out, "{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}");
                }
                out.write(": keep-alive\n\n".getBytes(StandardCharsets.UTF_8));
                out.flush();
                for (int i = 0; i < chunks; i++) {
                    pause(i == 0 ? t.firstMillis() : t.gapsMillis()[i - 1]);
                    event(out, chat ? "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}"
                            : "{\"choices\":[{\"index\":0,\"text\":\"x\"}]}");
                }
                event(out, chat ? "{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}]}"
                        : "{\"choices\":[{\"index\":0,\"text\":\"\",\"finish_reason\":\"length\"}]}");
                pause(t.usageMillis());
                event(out, "{\"choices\":[],\"usage\":" + usage + "}");
                out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void pause(long millis) throws InterruptedException {
        if (clock == null) {
            Thread.sleep(millis);
        } else {
            clock.advanceMillis(millis);
        }
    }

    private void event(OutputStream out, String data) throws IOException, InterruptedException {
        int seen = clock == null ? 0 : clock.reads();
        out.write(("data: " + data + "\n\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
        if (clock != null) {
            clock.awaitReadsAbove(seen);
        }
    }

    private static void reply(HttpExchange ex, int status, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().add("Content-Type", "application/json");
        ex.sendResponseHeaders(status, b.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(b);
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
