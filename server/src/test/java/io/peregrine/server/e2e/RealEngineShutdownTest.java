package io.peregrine.server.e2e;

import static io.peregrine.server.e2e.RealEngineServer.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.server.serving.ServingState;
import io.peregrine.server.app.ShutdownSequence;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SIGTERM's sequence on the real engine: a stream in flight runs to its full length, new work gets 503. */
class RealEngineShutdownTest {
    @TempDir
    Path dir;

    @Test
    void drainLetsTheRunningStreamFinish() throws Exception {
        try (RealEngineServer server = new RealEngineServer(dir.resolve("tiny"), 4)) {
            CompletableFuture<HttpResponse<String>> inFlight = CompletableFuture.supplyAsync(() -> {
                try {
                    return server.post("/v1/chat/completions", "{\"model\":\"demo\",\"stream\":true,"
                            + "\"stream_options\":{\"include_usage\":true},\"max_tokens\":100,\"ignore_eos\":true,"
                            + "\"messages\":[{\"role\":\"user\",\"content\":\"Tell a long story.\"}]}");
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            await(() -> server.engine.stats().generationTokensTotal() > 0, "the stream to start generating");
            Thread drain = Thread.ofPlatform().start(new ShutdownSequence(server.state, server.server, 30_000));
            await(() -> server.state.phase() == ServingState.Phase.DRAINING, "draining to begin");
            assertFalse(inFlight.isDone(), "the stream ended before the drain; it tests nothing");

            HttpResponse<String> late = server.post("/v1/chat/completions",
                    "{\"model\":\"demo\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
            assertEquals(503, late.statusCode());
            assertTrue(late.body().contains("shutting_down"), late.body());

            HttpResponse<String> stream = inFlight.get(30, TimeUnit.SECONDS);
            assertEquals(200, stream.statusCode());
            assertTrue(stream.body().contains("\"finish_reason\":\"length\""), "ran to max_tokens: " + tail(stream.body()));
            assertTrue(stream.body().contains("\"completion_tokens\":100"), tail(stream.body()));
            assertTrue(stream.body().endsWith("data: [DONE]\n\n"));
            drain.join(TimeUnit.SECONDS.toMillis(30));
            assertFalse(drain.isAlive(), "the shutdown sequence returned");
            assertEquals(0, server.engine.stats().running());
            assertEquals(0, server.engine.stats().kvBlocksUsed());
        }
    }

    private static String tail(String s) {
        return s.substring(Math.max(0, s.length() - 600));
    }
}
