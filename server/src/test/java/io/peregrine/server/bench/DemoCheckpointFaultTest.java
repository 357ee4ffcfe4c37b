package io.peregrine.server.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.peregrine.engine.checkpoint.demo.DemoCheckpoint;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fault mode against the real server, engine included, on the tiny demo checkpoint: {@code peregrine
 * serve} runs as its own process, takes disconnects, broken requests and slow readers for a few seconds, and
 * must end with nothing running or waiting and its KV usage back where it started.
 *
 * <p>Until the engine is wired into {@code serve}, the server exits at load with "not wired into this build
 * yet" and this test is skipped with that message; any other failure to start fails it.
 */
class DemoCheckpointFaultTest {
    private static final String NOT_WIRED = "not wired into this build yet";

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
        } finally {
            server.destroy();
            if (!server.waitFor(20, TimeUnit.SECONDS)) {
                server.destroyForcibly();
            }
        }
    }

    private static void awaitReady(Process server, URI base, Path log) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        try (HttpClient http = HttpClient.newHttpClient()) {
            while (System.nanoTime() < deadline) {
                if (!server.isAlive()) {
                    String out = Files.readString(log);
                    Assumptions.assumeFalse(out.contains(NOT_WIRED), "serve cannot run the engine yet: " + NOT_WIRED);
                    fail("peregrine serve exited with " + server.exitValue() + ":\n" + tail(out));
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
