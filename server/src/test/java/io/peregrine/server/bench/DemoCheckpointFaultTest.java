package io.peregrine.server.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.peregrine.engine.checkpoint.demo.DemoCheckpoint;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fault mode against the real server, engine included, on the tiny demo checkpoint: {@code peregrine
 * serve} runs as its own process, takes disconnects, broken requests and slow readers for a few seconds, and
 * must end with nothing running or waiting and its KV usage back where it started; then SIGTERM must let a
 * running stream finish before the process exits. Any failure to start fails it.
 */
class DemoCheckpointFaultTest {
    @TempDir
    Path dir;

    @Test
    void faultModeLeavesTheServerIdle() throws Exception {
        Path model = DemoCheckpoint.ensure(dir.resolve("demo"), "tiny");
        Path log = dir.resolve("server.log");
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        Process server = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-cp", classPath,
                "io.peregrine.server.Main", "serve", "--model", model.toString(), "--port", Integer.toString(port),
                "--served-model-name", "demo")
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            URI base = URI.create("http://127.0.0.1:" + port);
            awaitReady(server, base, log);
            BenchOptions options = new BenchOptions(base, Endpoint.CHAT, null, null, 4, Double.POSITIVE_INFINITY, 1, 3,
                    true, true, 0, 64, 0.25, 0.2, 0.1, Duration.ofMillis(200), Duration.ofSeconds(30), true,
                    Duration.ofSeconds(10), 0, "/metrics");
            BenchRunner.Report report = BenchRunner.run(options, RandomPrompts.generate(16, 12, 8, 0, 3),
                    new PrintWriter(new StringWriter()), Duration.ofSeconds(1), false);
            String table = ResultReport.table(report);
            assertEquals(0, report.result().unexpectedFailures(), table);
            assertTrue(report.result().completed() > 0, table);
            assertTrue(report.idle().idle(), table);
            sigtermDrainsAStreamInFlight(server, base, log);
        } finally {
            server.destroy();
            if (!server.waitFor(20, TimeUnit.SECONDS)) {
                server.destroyForcibly();
            }
        }
    }

    /** SIGTERM while a stream runs: the stream still runs to max_tokens, then the process exits. */
    private static void sigtermDrainsAStreamInFlight(Process server, URI base, Path log) throws Exception {
        try (HttpClient http = HttpClient.newHttpClient()) {
            HttpResponse<InputStream> r = http.send(HttpRequest.newBuilder(base.resolve("/v1/chat/completions"))
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"demo\",\"stream\":true,"
                            + "\"stream_options\":{\"include_usage\":true},\"max_tokens\":100,\"ignore_eos\":true,"
                            + "\"messages\":[{\"role\":\"user\",\"content\":\"A long story, please.\"}]}"))
                    .build(), HttpResponse.BodyHandlers.ofInputStream());
            assertEquals(200, r.statusCode());
            try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
                String first = in.readLine();
                assertTrue(first != null && first.startsWith("data: "), "stream started: " + first);
                server.destroy(); // SIGTERM
                StringBuilder rest = new StringBuilder(first).append('\n');
                for (String line; (line = in.readLine()) != null; ) {
                    rest.append(line).append('\n');
                }
                String body = rest.toString();
                String end = body.substring(Math.max(0, body.length() - 800));
                assertTrue(body.contains("\"finish_reason\":\"length\""), "drained to max_tokens:\n" + end);
                assertTrue(body.contains("\"completion_tokens\":100"), end);
                assertTrue(body.stripTrailing().endsWith("data: [DONE]"), end);
            }
        }
        assertTrue(server.waitFor(20, TimeUnit.SECONDS), "exited after draining:\n" + tail(Files.readString(log)));
    }

    private static void awaitReady(Process server, URI base, Path log) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        try (HttpClient http = HttpClient.newHttpClient()) {
            while (System.nanoTime() < deadline) {
                if (!server.isAlive()) {
                    fail("peregrine serve exited with " + server.exitValue() + ":\n" + tail(Files.readString(log)));
                }
                try {
                    HttpResponse<String> r = http.send(HttpRequest.newBuilder(base.resolve("/ready")).build(),
                            HttpResponse.BodyHandlers.ofString());
                    if (r.statusCode() == 200) {
                        return;
                    }
                } catch (IOException notListeningYet) {
                    // the process is still starting
                }
                Thread.sleep(100);
            }
        }
        fail("peregrine serve not ready within 120 s:\n" + tail(Files.readString(log)));
    }

    private static String tail(String s) {
        List<String> lines = s.lines().toList();
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
    }
}
