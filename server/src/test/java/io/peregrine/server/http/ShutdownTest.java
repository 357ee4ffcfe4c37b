package io.peregrine.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.server.fakes.FakeEngine.Script;
import io.peregrine.server.fakes.TestServer;
import io.peregrine.server.app.ShutdownSequence;
import java.net.http.HttpResponse;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** SIGTERM's sequence: 503 for new work at once, running streams end cleanly, then the server closes. */
class ShutdownTest {
    @Test
    void drainFinishesRunningStreamsAndRejectsNewWork() throws Exception {
        TestServer server = new TestServer();
        try {
            server.engine.started = new CountDownLatch(1);
            server.engine.script(r -> Script.holdUntilAborted());
            CompletableFuture<HttpResponse<String>> inFlight = CompletableFuture.supplyAsync(() -> {
                try {
                    return server.post("/v1/chat/completions",
                            "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"long\"}]}");
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            assertTrue(server.engine.started.await(5, TimeUnit.SECONDS));
            Thread drain = Thread.ofPlatform().start(new ShutdownSequence(server.state, server.server, 300));
            long t0 = System.nanoTime();
            while (server.engine.drainedWithTimeout < 0) {
                Thread.sleep(5);
            }
            HttpResponse<String> late = server.post("/v1/chat/completions",
                    "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
            assertEquals(503, late.statusCode());
            assertTrue(late.body().contains("shutting_down"), late.body());
            assertEquals(503, server.get("/ready").statusCode());
            HttpResponse<String> stream = inFlight.get(5, TimeUnit.SECONDS);
            assertEquals(200, stream.statusCode());
            assertTrue(stream.body().contains("\"finish_reason\":\"abort\""), stream.body());
            assertTrue(stream.body().endsWith("data: [DONE]\n\n"));
            drain.join(5000);
            assertEquals(300, server.engine.drainedWithTimeout);
            assertTrue(System.nanoTime() - t0 >= TimeUnit.MILLISECONDS.toNanos(250), "waited for the timeout first");
            assertEquals(0, server.engine.running.get());
        } finally {
            server.metrics.close();
        }
    }
}
