package io.peregrine.server.tracing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.opentelemetry.context.Scope;
import io.peregrine.engine.runtime.EngineListener;
import java.io.ByteArrayOutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.Test;

/**
 * The OTLP/HTTP export path against a collector stub on loopback (what {@code --otlp-traces-endpoint} builds), and
 * the off switch: every hook is the shared no-op.
 */
class OtlpExportTest {
    private record Post(String path, String contentType, byte[] body) {}

    private static boolean contains(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }

    @Test
    void spansReachACollectorOnLoopbackAsOtlpProtobuf() throws Exception {
        List<Post> posts = new CopyOnWriteArrayList<>();
        HttpServer collector = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        collector.createContext("/", ex -> {
            ByteArrayOutputStream body = new ByteArrayOutputStream();
            ex.getRequestBody().transferTo(body);
            posts.add(new Post(ex.getRequestURI().getPath(), ex.getRequestHeaders().getFirst("Content-Type"),
                    body.toByteArray()));
            ex.sendResponseHeaders(200, -1);
            ex.close();
        });
        collector.start();
        String traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
        try {
            // The collector's base URL: /v1/traces is added.
            Tracing tracing = Tracing.otlp("http://127.0.0.1:" + collector.getAddress().getPort(), "peregrine-export-test");
            HttpHeaders headers = new DefaultHttpHeaders().add("traceparent", "00-" + traceId + "-00f067aa0ba902b7-01");
            RequestTrace trace = tracing.begin("/v1/chat/completions", headers, System.nanoTime());
            trace.answered(200, false);
            tracing.close(); // flushes the batch
        } finally {
            collector.stop(0);
        }
        assertEquals(1, posts.size(), "one batch");
        Post p = posts.getFirst();
        assertEquals("/v1/traces", p.path());
        assertEquals("application/x-protobuf", p.contentType());
        assertTrue(contains(p.body(), "llm_request".getBytes(StandardCharsets.UTF_8)), "the span's name");
        assertTrue(contains(p.body(), "peregrine-export-test".getBytes(StandardCharsets.UTF_8)), "the service name");
        assertTrue(contains(p.body(), HexFormat.of().parseHex(traceId)), "the client's trace id");
    }

    @Test
    void offIsTheSharedNoOpEverywhere() throws Exception {
        Tracing off = Tracing.off();
        assertSame(RequestTrace.NONE, off.begin("/v1/chat/completions", new DefaultHttpHeaders(), 0));
        assertSame(EngineListener.NONE, off.engineListener());
        ExecutorService threads = Executors.newSingleThreadExecutor();
        try {
            assertSame(threads, off.propagating(threads));
        } finally {
            threads.shutdown();
        }
        try (Scope s = RequestTrace.NONE.activate()) {
            assertSame(Scope.noop(), s);
        }
    }

    @Test
    void aBadEndpointIsRefusedAtStart() {
        assertThrows(IllegalArgumentException.class, () -> Tracing.otlp("localhost:4317", "x"));
        assertThrows(IllegalArgumentException.class, () -> Tracing.otlp("grpc://collector:4317", "x"));
    }
}
