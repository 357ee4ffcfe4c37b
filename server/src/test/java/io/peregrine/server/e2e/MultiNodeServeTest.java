package io.peregrine.server.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.openai.core.http.StreamResponse;
import com.openai.errors.OpenAIServiceException;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import io.peregrine.engine.checkpoint.demo.DemoCheckpoint;
import io.peregrine.server.serving.ServingState;
import io.peregrine.server.wiring.Nodes;
import io.peregrine.server.wiring.RuntimeLoader;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two "nodes" on loopback: node 0 is this JVM ({@code RuntimeLoader} with {@code --nnodes 2 --node-rank 0}, the HTTP
 * server, the OpenAI SDK as client), node 1 is {@code peregrine serve --nnodes 2 --node-rank 1 --master-addr
 * 127.0.0.1} as its own process, which starts its rank as a worker of its own. The ranks join over TCP through the
 * master port. Greedy output equals one rank's; a drained shutdown of node 0 ends node 1 with status 0; node 1 killed
 * outright (the node gone) fails the in-flight stream and {@code /health}, also while idle.
 */
class MultiNodeServeTest {
    private static final String MODEL = ServedRuntime.MODEL;

    @TempDir
    static Path dir;
    private static Path checkpoint;

    private final HttpClient http = HttpClient.newHttpClient();
    private ServedRuntime node0;
    private Process node1;

    @BeforeAll
    static void writeCheckpoint() {
        checkpoint = DemoCheckpoint.ensure(dir.resolve("tiny"), "tiny");
    }

    @AfterEach
    void stop() {
        if (node0 != null && node0.state().phase() != ServingState.Phase.DRAINING) {
            node0.shutdown();
        }
        if (node1 != null) {
            node1.descendants().forEach(ProcessHandle::destroyForcibly);
            node1.destroyForcibly();
        }
        http.close();
    }

    private static ServedRuntime serve(RuntimeLoader.Parallel parallel, int threads) throws Exception {
        return ServedRuntime.start(checkpoint, threads, RuntimeLoader.MoeOptions.GPU, parallel);
    }

    /** Node 1 as an operator starts it, then node 0 here; returns once both nodes' ranks have joined. */
    private ServedRuntime twoNodes(Path log) throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        node1 = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx256m",
                "-XX:+UseSerialGC", "-cp", classPath, "io.peregrine.server.Main", "serve", "--model",
                checkpoint.toString(), "--tensor-parallel-size", "2", "--enable-expert-parallel", "--threads", "1",
                "--nnodes", "2", "--node-rank", "1", "--master-addr", "127.0.0.1", "--master-port",
                String.valueOf(port))
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        return serve(new RuntimeLoader.Parallel(2, true, new Nodes(2, 0, null, port)), 1);
    }

    private int health(ServedRuntime s) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(s.base() + "/health")).GET().build(),
                HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    /** The node as a machine going away: its serve process and the rank it started, killed at once. */
    private void killNode1() {
        node1.descendants().forEach(ProcessHandle::destroyForcibly);
        node1.destroyForcibly();
    }

    @Test
    void twoNodesAnswerLikeOneRankAndNodeOneEndsWithTheShutdown() throws Exception {
        Path log = dir.resolve("node1-answer.log");
        ServedRuntime one = serve(RuntimeLoader.Parallel.SINGLE, 1);
        try {
            node0 = twoNodes(log);
            assertEquals(List.of(), ProcessHandle.current().children().filter(ProcessHandle::isAlive)
                    .filter(p -> p.pid() != node1.pid()).toList(), "node 0 runs its one rank itself");
            for (String prompt : List.of("Name three raptors.", "What is 2 + 2? Answer briefly.")) {
                ChatCompletionCreateParams p = ServedRuntime.greedy(prompt, 16);
                assertEquals(ServedRuntime.text(one.client().chat().completions().create(p)),
                        ServedRuntime.text(node0.client().chat().completions().create(p)), prompt);
            }
        } finally {
            one.shutdown();
        }
        node0.shutdown();
        assertTrue(node1.waitFor(20, TimeUnit.SECONDS), "node 1 ends with node 0's shutdown:\n" + tail(log));
        assertEquals(0, node1.exitValue(), tail(log));
        assertTrue(Files.readString(log).contains("worker rank 1 stopped after"), tail(log));
    }

    @Test
    void aLostNodeFailsTheInFlightStreamAndHealth() throws Exception {
        node0 = twoNodes(dir.resolve("node1-lost.log"));
        StreamResponse<ChatCompletionChunk> stream = node0.client().chat().completions().createStreaming(
                ServedRuntime.greedy("Tell a very long story about falcons.", 1800));
        Iterator<ChatCompletionChunk> chunks = stream.stream().iterator();
        assertTrue(chunks.hasNext(), "the stream started");
        chunks.next();
        long killed = System.nanoTime();
        killNode1();
        RuntimeException e = assertTimeoutPreemptively(Duration.ofSeconds(10), () -> assertThrows(
                RuntimeException.class, () -> chunks.forEachRemaining(c -> { })), "the in-flight stream ends with an error");
        stream.close();
        assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
            while (health(node0) != 503) {
                Thread.sleep(20);
            }
        }, "/health turns 503");
        System.out.printf("killed node 1: stream failed and /health 503 within %d ms (%s)%n",
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed), e.getMessage());
        assertTrue(node0.state().detail().contains("rank 1 (127.0.0.1:"), node0.state().detail());
        OpenAIServiceException refused = assertThrows(OpenAIServiceException.class,
                () -> node0.client().chat().completions().create(ServedRuntime.greedy("Still there?", 4)));
        assertEquals(503, refused.statusCode());
    }

    @Test
    void aNodeLostWhileIdleFailsHealthAtOnce() throws Exception {
        node0 = twoNodes(dir.resolve("node1-idle.log"));
        assertEquals(200, health(node0));
        long killed = System.nanoTime();
        killNode1();
        assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
            while (health(node0) != 503) {
                Thread.sleep(20);
            }
        }, "/health turns 503 with no request running");
        System.out.printf("node 1 lost while idle: /health 503 within %d ms (%s)%n",
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed), node0.state().detail());
        assertTrue(node0.state().detail().contains("rank 1 (127.0.0.1:"), node0.state().detail());
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
