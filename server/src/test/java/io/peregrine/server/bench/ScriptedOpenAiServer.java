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
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;

/**
 * Another vendor's OpenAI server, as far as the benchmark can tell: every answer follows one timing script.
 * A stream opens with a role-only chunk at once, sends its first text after {@code firstMillis}, then one text
 * chunk every {@code gapMillis}, then a finish chunk and a usage chunk. Answers report {@code promptTokens}
 * and {@code chunks} completion tokens.
 */
final class ScriptedOpenAiServer implements AutoCloseable {
    final List<JsonNode> bodies = new CopyOnWriteArrayList<>();
    private final ObjectMapper json = Json.newMapper();
    private final HttpServer server;
    private final long firstMillis;
    private final long gapMillis;
    private final int chunks;
    private final int promptTokens;
    volatile int failStatus;

    ScriptedOpenAiServer(long firstMillis, long gapMillis, int chunks, int promptTokens) throws IOException {
        this.firstMillis = firstMillis;
        this.gapMillis = gapMillis;
        this.chunks = chunks;
        this.promptTokens = promptTokens;
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
        String usage = "{\"prompt_tokens\":" + promptTokens + ",\"completion_tokens\":" + chunks + ",\"total_tokens\":"
                + (promptTokens + chunks) + "}";
        try {
            if (!body.path("stream").asBoolean()) {
                Thread.sleep(firstMillis + gapMillis * (chunks - 1));
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
                Thread.sleep(firstMillis);
                for (int i = 0; i < chunks; i++) {
                    if (i > 0) {
                        Thread.sleep(gapMillis);
                    }
                    event(out, chat ? "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}"
                            : "{\"choices\":[{\"index\":0,\"text\":\"x\"}]}");
                }
                event(out, chat ? "{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}]}"
                        : "{\"choices\":[{\"index\":0,\"text\":\"\",\"finish_reason\":\"length\"}]}");
                event(out, "{\"choices\":[],\"usage\":" + usage + "}");
                out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void event(OutputStream out, String data) throws IOException {
        out.write(("data: " + data + "\n\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
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
