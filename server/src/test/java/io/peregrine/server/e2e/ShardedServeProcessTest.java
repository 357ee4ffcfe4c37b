package io.peregrine.server.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.peregrine.engine.checkpoint.demo.DemoCheckpoint;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code peregrine serve --tensor-parallel-size 2} as its own process, as an operator runs it: SIGTERM drains and
 * leaves no worker behind; rank 0 killed outright (no shutdown hook runs) takes its worker with it.
 */
class ShardedServeProcessTest {
    @TempDir
    static Path dir;
    private static Path model;

    @BeforeAll
    static void writeCheckpoint() {
        model = DemoCheckpoint.ensure(dir.resolve("tiny"), "tiny");
    }

    @Test
    void sigtermStopsEveryRank() throws Exception {
        Path log = dir.resolve("sigterm.log");
        Process server = start(log);
        try {
            URI base = awaitReady(server, log);
            try (HttpClient http = HttpClient.newHttpClient()) {
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(base.resolve("/v1/chat/completions"))
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"demo\",\"max_tokens\":8,"
                                + "\"ignore_eos\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}"))
                        .build(), HttpResponse.BodyHandlers.ofString());
                assertEquals(200, r.statusCode(), r.body());
            }
            List<ProcessHandle> workers = server.children().toList();
            assertEquals(1, workers.size(), "one worker rank: " + workers);
            server.destroy(); // SIGTERM
            assertTrue(server.waitFor(20, TimeUnit.SECONDS), "rank 0 exits:\n" + tail(log));
            for (ProcessHandle w : workers) {
                assertTrue(w.onExit().completeOnTimeout(w, 10, TimeUnit.SECONDS).join() != null && !w.isAlive(),
                        "worker pid " + w.pid() + " left behind:\n" + tail(log));
            }
            assertTrue(Files.readString(log).contains("worker rank 1 stopped after"), tail(log));
        } finally {
            server.descendants().forEach(ProcessHandle::destroyForcibly);
            server.destroyForcibly();
        }
    }

    @Test
    void aWorkerExitsWhenRankZeroIsKilled() throws Exception {
        Path log = dir.resolve("kill.log");
        Process server = start(log);
        try {
            awaitReady(server, log);
            List<ProcessHandle> workers = server.children().toList();
            assertEquals(1, workers.size(), "one worker rank: " + workers);
            server.destroyForcibly(); // SIGKILL: no shutdown hook, no stop message
            assertTrue(server.waitFor(10, TimeUnit.SECONDS));
            for (ProcessHandle w : workers) {
                assertTrue(w.onExit().completeOnTimeout(w, 10, TimeUnit.SECONDS).join() != null && !w.isAlive(),
                        "worker pid " + w.pid() + " outlived rank 0:\n" + tail(log));
            }
        } finally {
            server.descendants().forEach(ProcessHandle::destroyForcibly);
            server.destroyForcibly();
        }
    }

    private static Process start(Path log) throws IOException {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        return new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx512m",
                "-XX:+UseSerialGC", "-cp", classPath, "io.peregrine.server.Main", "serve", "--model", model.toString(),
                "--port", Integer.toString(port), "--served-model-name", "demo", "--tensor-parallel-size", "2",
                "--enable-expert-parallel", "--threads", "1", "--no-vision", "--kv-cache-memory", "32MiB",
                "--max-model-len", "2048", "--shutdown-timeout", "5")
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    private static URI awaitReady(Process server, Path log) throws Exception {
        String port = null;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        try (HttpClient http = HttpClient.newHttpClient()) {
            while (System.nanoTime() < deadline) {
                if (!server.isAlive()) {
                    fail("peregrine serve exited with " + server.exitValue() + ":\n" + tail(log));
                }
                if (port == null) {
                    port = Files.readString(log).lines().filter(l -> l.contains("listening on 127.0.0.1:"))
                            .map(l -> l.substring(l.lastIndexOf(':') + 1).strip()).findFirst().orElse(null);
                } else {
                    URI base = URI.create("http://127.0.0.1:" + port);
                    try {
                        if (http.send(HttpRequest.newBuilder(base.resolve("/ready")).build(),
                                HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                            return base;
                        }
                    } catch (IOException notListeningYet) {
                        // still starting
                    }
                }
                Thread.sleep(50);
            }
        }
        fail("peregrine serve not ready within 60 s:\n" + tail(log));
        return null;
    }

    private static String tail(Path log) {
        try {
            List<String> lines = Files.readString(log).lines().toList();
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }
}
