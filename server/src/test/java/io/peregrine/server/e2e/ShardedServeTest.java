package io.peregrine.server.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.openai.core.http.StreamResponse;
import com.openai.errors.OpenAIServiceException;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import io.peregrine.engine.checkpoint.demo.DemoCheckpoint;
import io.peregrine.engine.runtime.EngineListener;
import io.peregrine.server.serving.ServingState;
import io.peregrine.server.wiring.RuntimeLoader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code serve --tensor-parallel-size 2 --enable-expert-parallel} on the tiny demo checkpoint, end to end: the
 * loader starts the worker rank as a child JVM ({@code peregrine worker} on this class path), the OpenAI SDK talks to
 * the real HTTP server over loopback. Greedy output equals one rank's, streaming and not; a killed worker turns the
 * server into a failed engine (in-flight stream ends with an error, {@code /health} and new requests 503); the
 * shutdown sequence leaves no worker behind; counts the ranks cannot divide are refused before any worker starts.
 */
class ShardedServeTest {
    private static final String MODEL = ServedRuntime.MODEL;

    @TempDir
    static Path dir;
    private static Path checkpoint;

    private final HttpClient http = HttpClient.newHttpClient();
    private ServedRuntime one;
    private ServedRuntime sharded;

    @BeforeAll
    static void writeCheckpoint() {
        checkpoint = DemoCheckpoint.ensure(dir.resolve("tiny"), "tiny");
    }

    @AfterEach
    void stop() {
        if (one != null) {
            one.shutdown();
        }
        if (sharded != null && sharded.state().phase() != ServingState.Phase.DRAINING) {
            sharded.shutdown();
        }
        http.close();
    }

    private static ServedRuntime serve(RuntimeLoader.Parallel parallel, int threads) throws Exception {
        return ServedRuntime.start(checkpoint, threads, RuntimeLoader.MoeOptions.GPU, parallel);
    }

    /** This JVM's child JVMs: the worker ranks (nothing else in this test starts a process). */
    private static List<ProcessHandle> workers() {
        return ProcessHandle.current().children().filter(ProcessHandle::isAlive)
                .filter(p -> p.info().command().map(c -> c.endsWith("java")).orElse(true))
                .toList();
    }

    private int health(ServedRuntime s) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(s.base() + "/health")).GET().build(),
                HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    @Test
    void twoRanksAnswerLikeOneAndLeaveNoWorkerAfterShutdown() throws Exception {
        one = serve(RuntimeLoader.Parallel.SINGLE, 2);
        sharded = serve(new RuntimeLoader.Parallel(2, true), 1);
        List<ProcessHandle> started = workers();
        assertEquals(1, started.size(), "one worker rank for two ranks: " + started);

        for (String prompt : List.of("Name three raptors.", "What is 2 + 2? Answer briefly, then explain why.")) {
            ChatCompletionCreateParams p = ServedRuntime.greedy(prompt, 24);
            String expected = ServedRuntime.text(one.client().chat().completions().create(p));
            assertEquals(expected, ServedRuntime.text(sharded.client().chat().completions().create(p)), "chat: " + prompt);
            assertEquals(expected, ServedRuntime.streamed(sharded.client(), p), "streaming: " + prompt);
        }
        assertEquals(200, health(sharded));

        sharded.shutdown();
        for (ProcessHandle w : started) {
            assertTrue(w.onExit().toCompletableFuture().completeOnTimeout(null, 15, TimeUnit.SECONDS).join() != null
                    && !w.isAlive(), "worker pid " + w.pid() + " still running after shutdown");
        }
        assertEquals(List.of(), workers(), "no worker process after shutdown");
    }

    /**
     * A request with a tool and an image, greedy, through two ranks and through one: the same message (reasoning,
     * content, tool calls; the call ids are random and left out). The image's embedding rows travel to the worker in
     * the step broadcast and are written after the embedding's all-reduce on every rank.
     */
    @Test
    void aRequestWithAToolAndAnImageAnswersLikeOneRank() throws Exception {
        one = serve(RuntimeLoader.Parallel.SINGLE, 2);
        sharded = serve(new RuntimeLoader.Parallel(2, true), 1);
        java.awt.image.BufferedImage img = new java.awt.image.BufferedImage(64, 48,
                java.awt.image.BufferedImage.TYPE_INT_RGB);
        java.awt.Graphics2D g = img.createGraphics();
        g.setColor(java.awt.Color.ORANGE);
        g.fillRect(8, 8, 40, 24);
        g.dispose();
        java.io.ByteArrayOutputStream png = new java.io.ByteArrayOutputStream();
        javax.imageio.ImageIO.write(img, "png", png);
        String url = "data:image/png;base64," + java.util.Base64.getEncoder().encodeToString(png.toByteArray());
        String body = "{\"model\":\"demo\",\"max_tokens\":24,\"temperature\":0,\"ignore_eos\":true,"
                + "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":"
                + "\"Weather at a place\",\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":"
                + "{\"type\":\"string\"}},\"required\":[\"city\"]}}}],"
                + "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
                + "\"Where was this taken, and what is the weather there?\"},"
                + "{\"type\":\"image_url\",\"image_url\":{\"url\":\"" + url + "\"}}]}]}";
        String expected = message(post(one, body));
        assertEquals(expected, message(post(sharded, body)));
        assertTrue(expected.length() > 20, expected);
    }

    private String post(ServedRuntime s, String body) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(s.base() + "/v1/chat/completions"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        return r.body();
    }

    /** The reply's message and usage, without the random tool-call ids. */
    private static String message(String response) throws Exception {
        var mapper = new com.fasterxml.jackson.databind.ObjectMapper();
        var root = mapper.readTree(response);
        var m = (com.fasterxml.jackson.databind.node.ObjectNode) root.path("choices").path(0).path("message");
        for (var call : m.path("tool_calls")) {
            ((com.fasterxml.jackson.databind.node.ObjectNode) call).remove("id");
        }
        return m + " " + root.path("usage");
    }

    @Test
    void aKilledWorkerFailsTheInFlightStreamAndHealth() throws Exception {
        sharded = serve(new RuntimeLoader.Parallel(2, true), 1);
        List<ProcessHandle> started = workers();
        assertEquals(1, started.size());
        assertEquals(200, health(sharded));

        // a stream far longer than the test: it can only end because the group broke
        StreamResponse<ChatCompletionChunk> stream = sharded.client().chat().completions().createStreaming(
                ServedRuntime.greedy("Tell a very long story about falcons.", 1800));
        Iterator<ChatCompletionChunk> chunks = stream.stream().iterator();
        assertTrue(chunks.hasNext(), "the stream started");
        chunks.next();
        long killed = System.nanoTime();
        started.getFirst().destroyForcibly();

        RuntimeException e = assertTimeoutPreemptively(Duration.ofSeconds(10), () -> assertThrows(RuntimeException.class,
                () -> chunks.forEachRemaining(c -> { })), "the in-flight stream ends with an error");
        stream.close();
        assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
            while (health(sharded) != 503) {
                Thread.sleep(20);
            }
        }, "/health turns 503");
        System.out.printf("killed worker: stream failed and /health 503 within %d ms (%s)%n",
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed), e.getMessage());
        assertEquals(ServingState.Phase.FAILED, sharded.state().phase());
        assertTrue(sharded.state().detail().contains("died") || sharded.state().detail().contains("exited"),
                sharded.state().detail());

        OpenAIServiceException refused = assertThrows(OpenAIServiceException.class,
                () -> sharded.client().chat().completions().create(ServedRuntime.greedy("Still there?", 4)));
        assertEquals(503, refused.statusCode());
        assertTrue(refused.getMessage().contains("engine failed"), refused.getMessage());

        sharded.shutdown();
        assertEquals(List.of(), workers(), "no worker process after shutdown");
    }

    @Test
    void aWorkerDyingWhileTheServerIsIdleFailsHealthAtOnce() throws Exception {
        sharded = serve(new RuntimeLoader.Parallel(2, true), 1);
        List<ProcessHandle> started = workers();
        assertEquals(1, started.size());
        started.getFirst().destroyForcibly();
        assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
            while (health(sharded) != 503) {
                Thread.sleep(20);
            }
        }, "/health turns 503 with no request running");
        assertTrue(sharded.state().detail().contains("worker rank 1 (pid " + started.getFirst().pid() + ") exited"),
                sharded.state().detail());
        int ready = http.send(HttpRequest.newBuilder(URI.create(sharded.base() + "/ready")).GET().build(),
                HttpResponse.BodyHandlers.discarding()).statusCode();
        assertEquals(503, ready);
        sharded.shutdown();
        assertEquals(List.of(), workers());
    }

    @Test
    void countsTheRanksCannotDivideAreRefusedBeforeAnyWorkerStarts() {
        ServingState state = new ServingState();
        for (var c : Map.of(
                new RuntimeLoader.Parallel(3, false), "num_attention_heads 2 is not divisible by 3 tensor-parallel ranks",
                new RuntimeLoader.Parallel(2, false), "not a multiple of the quantization group of 32").entrySet()) {
            RuntimeException e = assertThrows(RuntimeException.class, () -> RuntimeLoader.load(
                    new RuntimeLoader.Options(checkpoint, List.of(MODEL), 2048, 4, 64, 256, 32L << 20, 16, "cpu",
                            "tiny", RuntimeLoader.MediaOptions.defaults(), false, null, RuntimeLoader.Options.AUTO, 1, null),
                    c.getKey(), state, EngineListener.NONE));
            assertTrue(e.getMessage().contains(c.getValue()), e.getMessage());
            assertFalse(e.getMessage().isBlank());
        }
        assertEquals(List.of(), workers());
    }
}
