package io.peregrine.server.http;

import io.peregrine.server.app.ServerConfig;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.server.fakes.FakeEngine.Script;
import io.peregrine.server.fakes.TestServer;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** A stream that waits in the queue still gets headers and SSE comments, so proxies do not time it out. */
class SseKeepAliveTest {
    @Test
    void queuedStreamGetsKeepAliveComments() throws Exception {
        try (TestServer server = new TestServer(ServerConfig.defaults().withSseKeepAlive(Duration.ofMillis(50)), 4096,
                true)) {
            server.engine.script(r -> Script.queuedUntilAborted());
            String body = "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"go\"}]}";
            try (Socket socket = new Socket("127.0.0.1", server.server.port())) {
                socket.setSoTimeout(5000);
                OutputStream out = socket.getOutputStream();
                out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        + "Content-Length: " + body.length() + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
                out.flush();
                InputStream in = socket.getInputStream();
                StringBuilder seen = new StringBuilder();
                byte[] buf = new byte[1024];
                while (!seen.toString().contains(": keep-alive\n\n")) {
                    int n = in.read(buf);
                    assertTrue(n > 0, "stream ended early: " + seen);
                    seen.append(new String(buf, 0, n, StandardCharsets.UTF_8));
                }
                assertTrue(seen.toString().startsWith("HTTP/1.1 200"), seen.toString());
                assertTrue(seen.toString().contains("text/event-stream"), seen.toString());
            }
        }
    }
}
