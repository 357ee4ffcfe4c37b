package io.peregrine.server.anthropic;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.runtime.EngineEvent;
import io.peregrine.engine.runtime.EngineStats;
import io.peregrine.engine.runtime.EventSink;
import io.peregrine.engine.runtime.GenerationRequest;
import io.peregrine.engine.runtime.InferenceEngine;
import io.peregrine.engine.runtime.RequestHandle;
import io.peregrine.server.fakes.ByteCodec;
import io.peregrine.server.fakes.FakeEngine;
import io.peregrine.server.fakes.FakeEngine.Script;
import io.peregrine.server.fakes.FakePromptBuilder;
import io.peregrine.server.fakes.ScriptedOutput;
import io.peregrine.server.fakes.TestServer;
import io.peregrine.server.app.HttpServer;
import io.peregrine.server.app.ServerConfig;
import io.peregrine.server.metrics.ServerMetrics;
import io.peregrine.server.serving.ModelRuntime;
import io.peregrine.server.serving.ServingState;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Anthropic's stream framing where the engine decides: keep-alive pings and an engine failure mid-stream. */
class MessagesStreamTest {
    private static final String BODY = "{\"model\":\"m\",\"max_tokens\":8,\"stream\":true,\"thinking\":{\"type\":"
            + "\"disabled\"},\"messages\":[{\"role\":\"user\",\"content\":\"go\"}]}";

    @Test
    void aQueuedStreamGetsMessageStartAndPings() throws Exception {
        try (TestServer server = new TestServer(ServerConfig.defaults().withSseKeepAlive(Duration.ofMillis(50)), 4096,
                true)) {
            server.engine.script(r -> Script.queuedUntilAborted());
            String body = BODY.replace("\"m\"", "\"" + TestServer.MODEL + "\"");
            try (Socket socket = new Socket("127.0.0.1", server.server.port())) {
                socket.setSoTimeout(5000);
                OutputStream out = socket.getOutputStream();
                out.write(("POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        + "Content-Length: " + body.length() + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
                out.flush();
                InputStream in = socket.getInputStream();
                StringBuilder seen = new StringBuilder();
                byte[] buf = new byte[1024];
                while (!seen.toString().contains("event: ping\ndata: {\"type\":\"ping\"}\n\n")) {
                    int n = in.read(buf);
                    assertTrue(n > 0, "stream ended early: " + seen);
                    seen.append(new String(buf, 0, n, StandardCharsets.UTF_8));
                }
                String s = seen.toString();
                assertTrue(s.startsWith("HTTP/1.1 200"), s);
                assertTrue(s.indexOf("event: message_start\n") < s.indexOf("event: ping\n"), s);
                assertFalse(s.contains(": keep-alive"), "Anthropic clients get ping events, not comments");
            }
        }
    }

    @Test
    void anEngineFailureMidStreamIsAnErrorEvent() throws Exception {
        FakeEngine base = new FakeEngine(4096);
        InferenceEngine failing = new InferenceEngine() {
            @Override
            public RequestHandle submit(GenerationRequest request, EventSink sink) {
                Thread.ofPlatform().daemon().start(() -> {
                    sink.accept(new EngineEvent.Scheduled(request.requestId(), request.promptLength(), 0, 0));
                    sink.accept(new ScriptedOutput(request).step(0, 'h', "h", null));
                    sink.accept(new EngineEvent.Failed(request.requestId(), "device lost"));
                });
                return new RequestHandle() {
                    @Override
                    public String requestId() {
                        return request.requestId();
                    }

                    @Override
                    public void abort() {}
                };
            }

            @Override
            public EngineStats stats() {
                return base.stats();
            }

            @Override
            public int maxModelLen() {
                return 4096;
            }

            @Override
            public void drain(long timeoutMillis) {}

            @Override
            public void close() {}
        };
        ServingState state = new ServingState();
        ServerMetrics metrics = new ServerMetrics("m", state::stats);
        state.ready(new ModelRuntime(List.of("m"), "/m", failing, new ByteCodec(), new FakePromptBuilder()));
        try (HttpServer server = HttpServer.start(ServerConfig.defaults().withPort(0), state, metrics);
             java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient()) {
            HttpResponse<String> r = http.send(java.net.http.HttpRequest.newBuilder(
                    java.net.URI.create("http://127.0.0.1:" + server.port() + "/v1/messages"))
                    .POST(java.net.http.HttpRequest.BodyPublishers.ofString(BODY)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode());
            String last = r.body().substring(r.body().lastIndexOf("event: "));
            assertTrue(last.startsWith("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\","
                    + "\"message\":\"Generation failed: device lost\"}}"), r.body());
            assertTrue(r.body().startsWith("event: message_start\n"), r.body());
            assertTrue(r.body().contains("\"text_delta\",\"text\":\"h\""), r.body());
        } finally {
            metrics.close();
        }
    }
}
