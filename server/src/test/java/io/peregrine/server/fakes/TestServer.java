package io.peregrine.server.fakes;

import io.peregrine.server.app.HttpServer;
import io.peregrine.server.app.ServerConfig;
import io.peregrine.server.metrics.ServerMetrics;
import io.peregrine.server.serving.ModelRuntime;
import io.peregrine.server.serving.ServingState;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;

/** The real HTTP server on a loopback port over fakes of the engine, template and parser. */
public final class TestServer implements AutoCloseable {
    public static final String MODEL = "kimi-k2.5";
    public final FakeEngine engine;
    public final FakePromptBuilder prompts = new FakePromptBuilder();
    public final ServingState state = new ServingState();
    public final ServerMetrics metrics;
    public final HttpServer server;
    private final HttpClient http = HttpClient.newHttpClient();

    public TestServer(ServerConfig config, int maxModelLen, boolean ready) throws InterruptedException {
        engine = new FakeEngine(maxModelLen);
        metrics = new ServerMetrics(MODEL, state::stats);
        if (ready) {
            state.ready(runtime());
        } else {
            state.loading(0.25, "reading shard 1 of 4");
        }
        server = HttpServer.start(config.withPort(0), state, metrics);
    }

    public TestServer() throws InterruptedException {
        this(ServerConfig.defaults(), 4096, true);
    }

    public ModelRuntime runtime() {
        return new ModelRuntime(List.of(MODEL, "alias"), "/models/tiny-k25", engine, new ByteCodec(), prompts);
    }

    public String baseUrl() {
        return "http://127.0.0.1:" + server.port();
    }

    public HttpResponse<String> post(String path, String json, String... headers) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(baseUrl() + path))
                .POST(HttpRequest.BodyPublishers.ofString(json)).header("Content-Type", "application/json");
        if (headers.length > 0) {
            b.headers(headers);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    public HttpResponse<String> get(String path, String... headers) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(baseUrl() + path)).GET();
        if (headers.length > 0) {
            b.headers(headers);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Override
    public void close() {
        server.close();
        metrics.close();
        http.close();
    }
}
