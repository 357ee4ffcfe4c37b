package io.peregrine.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.server.fakes.FakeEngine.Script;
import io.peregrine.server.fakes.TestServer;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** A client that goes away aborts its request wherever it is, and the engine's counts return to zero. */
class DisconnectTest {

    @ParameterizedTest(name = "stream={0} queued={1}")
    @CsvSource({"true,false", "false,false", "true,true", "false,true"})
    void closingTheConnectionAbortsTheRequest(boolean stream, boolean queued) throws Exception {
        try (TestServer server = new TestServer()) {
            server.engine.started = new CountDownLatch(1);
            server.engine.script(r -> queued ? Script.queuedUntilAborted() : Script.holdUntilAborted());
            String body = "{\"stream\":" + stream + ",\"messages\":[{\"role\":\"user\",\"content\":\"go\"}]}";
            try (Socket socket = new Socket("127.0.0.1", server.server.port())) {
                OutputStream out = socket.getOutputStream();
                out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        + "Content-Length: " + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body)
                        .getBytes(StandardCharsets.UTF_8));
                out.flush();
                assertTrue(server.engine.started.await(5, TimeUnit.SECONDS), "the engine got the request");
                if (stream && !queued) {
                    InputStream in = socket.getInputStream();
                    byte[] buf = new byte[256];
                    int n = in.read(buf);
                    assertTrue(new String(buf, 0, n, StandardCharsets.US_ASCII).startsWith("HTTP/1.1 200"));
                }
                IntSupplier busy = queued ? server.engine.waiting::get : server.engine.running::get;
                assertEquals(1, busy.getAsInt());
            }
            waitFor(() -> server.engine.aborted.get() == 1 && server.engine.running.get() == 0
                    && server.engine.waiting.get() == 0);
            assertEquals(0, server.state.stats().running());
            assertEquals(0, server.state.stats().kvBlocksUsed(), "the fake frees its blocks with the request");
            waitFor(() -> server.metrics.scrape().contains("finished_reason=\"abort\""));
        }
    }

    private static void waitFor(java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("condition not met within 5 s");
            }
            Thread.sleep(10);
        }
    }
}
