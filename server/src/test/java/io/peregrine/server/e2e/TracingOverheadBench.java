package io.peregrine.server.e2e;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.opentelemetry.context.Scope;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import io.peregrine.server.tracing.RequestTrace;
import io.peregrine.server.tracing.Tracing;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * What tracing costs. (1) The hooks a request runs through with tracing off, per request, against an empty loop.
 * (2) End to end on the tiny demo checkpoint: median latency of short chat requests with tracing off and on (spans
 * batched to an in-memory exporter), in alternating rounds so a loaded machine's drift hits both alike.
 *
 * <pre>
 * mvn -q -pl server -am test-compile &amp;&amp; mvn -q -pl server dependency:build-classpath -Dmdep.outputFile=/tmp/cp.txt
 * java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:+UseParallelGC \
 *   -cp server/target/test-classes:server/target/classes:engine/target/classes:api/target/classes:$(cat /tmp/cp.txt) \
 *   io.peregrine.server.e2e.TracingOverheadBench [rounds] [requests-per-round]
 * </pre>
 * (this tree's engine and api classes first: the ~/.m2 snapshot may be another checkout's)
 * <pre>
 * </pre>
 */
public final class TracingOverheadBench {
    private TracingOverheadBench() {}

    public static void main(String[] args) throws Exception {
        offHooks();
        endToEnd(args.length > 0 ? Integer.parseInt(args[0]) : 5, args.length > 1 ? Integer.parseInt(args[1]) : 40);
    }

    private static void offHooks() {
        Tracing off = Tracing.off();
        HttpHeaders headers = new DefaultHttpHeaders().add("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        int n = 20_000_000;
        long sink = 0;
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory
                .getThreadMXBean();
        long self = Thread.currentThread().threadId();
        for (int round = 0; round < 5; round++) {
            long bytes0 = mx.getThreadAllocatedBytes(self);
            long t0 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                RequestTrace t = off.begin("/v1/chat/completions", headers, i);
                try (Scope s = t.activate()) {
                    t.submitting(null, "m");
                }
                t.answered(200, false);
                sink += t.hashCode();
            }
            long t1 = System.nanoTime();
            long bytes = mx.getThreadAllocatedBytes(self) - bytes0;
            System.out.printf("off hooks: %.2f ns/request, %.3f bytes allocated/request%n", (t1 - t0) / (double) n,
                    bytes / (double) n);
        }
        System.out.println("(sink " + (sink & 1) + ")");
    }

    private static void endToEnd(int rounds, int perRound) throws Exception {
        Path dir = Files.createTempDirectory("tracing-bench");
        InMemorySpanExporter spans = InMemorySpanExporter.create();
        // Exported as each span ends (the on path's worst case: export on the engine thread).
        Tracing on = Tracing.using(SimpleSpanProcessor.create(spans), "bench");
        String body = "{\"model\":\"demo\",\"max_tokens\":8,\"messages\":[{\"role\":\"user\",\"content\":\""
                + "Peregrine falcons ".repeat(8) + "\"}]}";
        try (TracedServer offServer = new TracedServer(dir.resolve("tiny"), Tracing.off(), 2048);
             TracedServer onServer = new TracedServer(dir.resolve("tiny"), on, 2048)) {
            long[][] all = new long[2][rounds * perRound];
            for (int warm = 0; warm < 30; warm++) {
                offServer.post("/v1/chat/completions", body);
                onServer.post("/v1/chat/completions", body);
            }
            for (int r = 0; r < rounds; r++) {
                for (int which = 0; which < 2; which++) {
                    TracedServer s = which == 0 ? offServer : onServer;
                    for (int i = 0; i < perRound; i++) {
                        long t0 = System.nanoTime();
                        if (s.post("/v1/chat/completions", body).statusCode() != 200) {
                            throw new IllegalStateException("request failed");
                        }
                        all[which][r * perRound + i] = System.nanoTime() - t0;
                    }
                }
            }
            System.out.println("spans exported with tracing on: " + spans.getFinishedSpanItems().stream()
                    .collect(java.util.stream.Collectors.groupingBy(io.opentelemetry.sdk.trace.data.SpanData::getName,
                            java.util.TreeMap::new, java.util.stream.Collectors.counting())));
            for (int which = 0; which < 2; which++) {
                long[] t = all[which];
                Arrays.sort(t);
                System.out.printf("tracing %s: median %.3f ms, p90 %.3f ms over %d requests%n", which == 0 ? "off" : "on ",
                        t[t.length / 2] / 1e6, t[t.length * 9 / 10] / 1e6, t.length);
            }
        } finally {
            on.close();
        }
    }
}
