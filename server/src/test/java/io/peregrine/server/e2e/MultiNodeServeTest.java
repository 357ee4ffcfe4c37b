package io.peregrine.server.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.errors.OpenAIServiceException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import io.peregrine.engine.checkpoint.demo.DemoCheckpoint;
import io.peregrine.engine.runtime.EngineListener;
import io.peregrine.server.app.HttpServer;
import io.peregrine.server.app.ServerConfig;
import io.peregrine.server.metrics.ServerMetrics;
import io.peregrine.server.serving.ServingState;
import io.peregrine.server.app.ShutdownSequence;
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
    private static final String MODEL = "demo";

    @TempDir
    static Path dir;
    private static Path checkpoint;

    private final HttpClient http = HttpClient.newHttpClient();
    private Served node0;
    private Process node1;

    private record Served(ServingState state, HttpServer server, ServerMetrics metrics, OpenAIClient client) {
        String base() {
            return "http://127.0.0.1:" + server.port();
        }

        void shutdown() {
            client.close();
            new ShutdownSequence(state, server, 5_000).run();
            metrics.close();
        }
    }

    @BeforeAll
    static void writeCheckpoint() {
        checkpoint = DemoCheckpoint.ensure(dir.resolve("tiny"), "tiny");
    }

    @AfterEach
    void stop() {
        if (node0 != null && node0.state.phase() != ServingState.Phase.DRAINING) {
            node0.shutdown();
        }
        if (node1 != null) {
            node1.descendants().forEach(ProcessHandle::destroyForcibly);
            node1.destroyForcibly();
        }
        http.close();
    }

    private static Served serve(RuntimeLoader.Parallel parallel, int threads) throws Exception {
        ServingState state = new ServingState();
        ServerMetrics metrics = new ServerMetrics(MODEL, state::stats);
        state.ready(RuntimeLoader.load(new RuntimeLoader.Options(checkpoint, List.of(MODEL), 2048, 4, 64, 256,
                32L << 20, 16, "cpu", "tiny", RuntimeLoader.MediaOptions.defaults(), false, null,
                RuntimeLoader.Options.AUTO, threads, null), parallel, state, EngineListener.NONE));
        HttpServer server = HttpServer.start(ServerConfig.defaults().withPort(0), state, metrics);
        OpenAIClient client = OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + server.port() + "/v1")
                .apiKey("unused").maxRetries(0).timeout(Duration.ofSeconds(30)).build();
        return new Served(state, server, metrics, client);
    }

    /** Node 1 as an operator starts it, then node 0 here; returns once both nodes' ranks have joined. */
    private Served twoNodes(Path log) throws Exception {
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

    private static ChatCompletionCreateParams greedy(String text, int tokens) {
        return ChatCompletionCreateParams.builder().model(MODEL).addUserMessage(text).temperature(0.0)
                .maxCompletionTokens(tokens).putAdditionalBodyProperty("ignore_eos", JsonValue.from(true)).build();
    }

    private static String text(ChatCompletion c) {
        var m = c.choices().getFirst().message();
        JsonValue r = m._additionalProperties().get("reasoning_content");
        return (r == null ? "" : r.asString().orElse("")) + "|" + m.content().orElse("");
    }

    private int health(Served s) throws Exception {
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
        Served one = serve(RuntimeLoader.Parallel.SINGLE, 1);
        try {
            node0 = twoNodes(log);
            assertEquals(List.of(), ProcessHandle.current().children().filter(ProcessHandle::isAlive)
                    .filter(p -> p.pid() != node1.pid()).toList(), "node 0 runs its one rank itself");
            for (String prompt : List.of("Name three raptors.", "What is 2 + 2? Answer briefly.")) {
                ChatCompletionCreateParams p = greedy(prompt, 16);
                assertEquals(text(one.client().chat().completions().create(p)),
                        text(node0.client().chat().completions().create(p)), prompt);
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
                greedy("Tell a very long story about falcons.", 1800));
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
                () -> node0.client().chat().completions().create(greedy("Still there?", 4)));
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
