package io.peregrine.server.e2e;

import io.peregrine.engine.checkpoint.demo.DemoCheckpoint;
import io.peregrine.engine.runtime.EngineStats;
import io.peregrine.engine.runtime.EventSink;
import io.peregrine.engine.runtime.GenerationRequest;
import io.peregrine.engine.runtime.InferenceEngine;
import io.peregrine.engine.runtime.RejectedException;
import io.peregrine.engine.runtime.RequestHandle;
import io.peregrine.engine.spec.SpeculativeConfig;
import io.peregrine.server.app.HttpServer;
import io.peregrine.server.app.ServerConfig;
import io.peregrine.server.metrics.ServerMetrics;
import io.peregrine.server.serving.ModelRuntime;
import io.peregrine.server.serving.ServingState;
import io.peregrine.server.wiring.RuntimeLoader;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * The real server over the real engine, model, tokenizer, chat template and parser: the {@code tiny} demo
 * checkpoint loaded by {@link RuntimeLoader} on the CPU backend, on a loopback port. The engine is wrapped only
 * to record what reached it (the templated prompt ids), never to change it.
 */
final class RealEngineServer implements AutoCloseable {
    static final String MODEL = "demo";
    /** {@code --threads}: the CPU backend's compute pool. */
    static final int THREADS = 2;

    final ServingState state = new ServingState();
    final ServerMetrics metrics;
    final HttpServer server;
    final InferenceEngine engine;
    final List<GenerationRequest> submitted = new CopyOnWriteArrayList<>();
    private final HttpClient http = HttpClient.newHttpClient();

    /** @param maxNumSeqs sequences decoded together; small so a request can be held in the queue */
    RealEngineServer(Path dir, int maxNumSeqs) throws Exception {
        this(dir, maxNumSeqs, 32L << 20);
    }

    /** @param kvCacheBytes the KV budget; small to force preemption */
    RealEngineServer(Path dir, int maxNumSeqs, long kvCacheBytes) throws Exception {
        this(dir, maxNumSeqs, kvCacheBytes, null);
    }

    /** @param chatTemplate {@code --chat-template FILE}, or null for the checkpoint's */
    RealEngineServer(Path dir, int maxNumSeqs, long kvCacheBytes, Path chatTemplate) throws Exception {
        this(dir, maxNumSeqs, kvCacheBytes, chatTemplate, null);
    }

    /** @param speculative {@code --speculative-config}, or null for none */
    RealEngineServer(Path dir, int maxNumSeqs, long kvCacheBytes, Path chatTemplate, SpeculativeConfig speculative)
            throws Exception {
        this(dir, maxNumSeqs, kvCacheBytes, chatTemplate, speculative, false);
    }

    /** @param batchInvariant {@code --batch-invariant} */
    RealEngineServer(Path dir, int maxNumSeqs, long kvCacheBytes, Path chatTemplate, SpeculativeConfig speculative,
                     boolean batchInvariant) throws Exception {
        Path model = DemoCheckpoint.ensure(dir, "tiny");
        metrics = new ServerMetrics(MODEL, state::stats);
        ModelRuntime loaded = RuntimeLoader.load(new RuntimeLoader.Options(model, List.of(MODEL), 2048, maxNumSeqs,
                64, 256, kvCacheBytes, 16, "cpu", "tiny", RuntimeLoader.MediaOptions.defaults(), batchInvariant,
                chatTemplate,
                RuntimeLoader.Options.AUTO, THREADS, speculative),
                state, metrics.engineListener());
        engine = loaded.engine();
        InferenceEngine recording = new InferenceEngine() {
            @Override
            public RequestHandle submit(GenerationRequest request, EventSink sink) throws RejectedException {
                submitted.add(request);
                return engine.submit(request, sink);
            }

            @Override
            public EngineStats stats() {
                return engine.stats();
            }

            @Override
            public int maxModelLen() {
                return engine.maxModelLen();
            }

            @Override
            public void drain(long timeoutMillis) throws InterruptedException {
                engine.drain(timeoutMillis);
            }

            @Override
            public void close() {
                engine.close();
            }
        };
        state.ready(new ModelRuntime(loaded.servedModelNames(), loaded.root(), recording, loaded.codec(),
                loaded.prompts()));
        server = HttpServer.start(ServerConfig.defaults().withPort(0), state, metrics);
    }

    String baseUrl() {
        return "http://127.0.0.1:" + server.port();
    }

    HttpResponse<String> post(String path, String json) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create(baseUrl() + path))
                .POST(HttpRequest.BodyPublishers.ofString(json)).header("Content-Type", "application/json").build(),
                HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create(baseUrl() + path)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    GenerationRequest lastSubmitted() {
        return submitted.getLast();
    }

    /** Waits until nothing runs or waits and no KV block is referenced. */
    void awaitIdle() throws InterruptedException {
        await(() -> {
            EngineStats s = engine.stats();
            return s.running() == 0 && s.waiting() == 0 && s.kvBlocksUsed() == 0;
        }, "the engine to go idle; stats " + engine.stats());
    }

    static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(5);
        }
    }

    @Override
    public void close() {
        server.close();
        engine.close();
        metrics.close();
        http.close();
    }
}
