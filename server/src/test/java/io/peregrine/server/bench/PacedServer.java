package io.peregrine.server.bench;

import io.peregrine.server.fakes.ByteCodec;
import io.peregrine.server.fakes.FakePromptBuilder;
import io.peregrine.server.app.HttpServer;
import io.peregrine.server.app.ServerConfig;
import io.peregrine.server.metrics.ServerMetrics;
import io.peregrine.server.serving.ModelRuntime;
import io.peregrine.server.serving.ServingState;
import java.net.URI;
import java.util.List;

/** Our real HTTP server on a loopback port over a {@link PacedEngine}. */
final class PacedServer implements AutoCloseable {
    static final String MODEL = "kimi-k2.5";
    final PacedEngine engine;
    private final ServerMetrics metrics;
    private final HttpServer server;

    PacedServer(long tokenMillis, boolean leakAborted) throws InterruptedException {
        this(tokenMillis, leakAborted, 0);
    }

    PacedServer(long tokenMillis, boolean leakAborted, int port) throws InterruptedException {
        engine = new PacedEngine(tokenMillis, leakAborted);
        ServingState state = new ServingState();
        metrics = new ServerMetrics(MODEL, state::stats);
        state.ready(new ModelRuntime(List.of(MODEL), "/models/paced", engine, new ByteCodec(),
                new FakePromptBuilder()));
        server = HttpServer.start(ServerConfig.defaults().withPort(port), state, metrics);
    }

    URI baseUrl() {
        return URI.create("http://127.0.0.1:" + server.port());
    }

    @Override
    public void close() {
        server.close();
        metrics.close();
    }
}
