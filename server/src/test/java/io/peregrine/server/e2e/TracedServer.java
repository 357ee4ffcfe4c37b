package io.peregrine.server.e2e;

import io.peregrine.engine.checkpoint.demo.DemoCheckpoint;
import io.peregrine.server.app.HttpServer;
import io.peregrine.server.app.ServerConfig;
import io.peregrine.server.metrics.ServerMetrics;
import io.peregrine.server.serving.ModelRuntime;
import io.peregrine.server.serving.ServingState;
import io.peregrine.server.tracing.Tracing;
import io.peregrine.server.webui.WebUi;
import io.peregrine.server.wiring.RuntimeLoader;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;

/** The real server on the tiny demo checkpoint wired as {@code serve} wires it: metrics and the given tracing. */
final class TracedServer implements AutoCloseable {
    static final String MODEL = "demo";
    final ServingState state = new ServingState();
    final ServerMetrics metrics = new ServerMetrics(MODEL, state::stats);
    final ModelRuntime runtime;
    final HttpServer server;
    private final HttpClient http = HttpClient.newHttpClient();

    /** @param maxNumBatchedTokens small to prefill a prompt in several chunks */
    TracedServer(Path dir, Tracing tracing, int maxNumBatchedTokens) throws Exception {
        Path model = DemoCheckpoint.ensure(dir, "tiny");
        runtime = RuntimeLoader.load(new RuntimeLoader.Options(model, List.of(MODEL), 2048, 4, 64, maxNumBatchedTokens,
                32L << 20, 16, "cpu", "tiny"), state, metrics, tracing);
        state.ready(runtime);
        server = HttpServer.start(ServerConfig.defaults().withPort(0), state, metrics, WebUi.off(), tracing);
    }

    HttpResponse<String> post(String path, String json, String... headers) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
                .POST(HttpRequest.BodyPublishers.ofString(json)).header("Content-Type", "application/json");
        if (headers.length > 0) {
            b.headers(headers);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Override
    public void close() {
        server.close();
        runtime.engine().close();
        metrics.close();
        http.close();
    }
}
