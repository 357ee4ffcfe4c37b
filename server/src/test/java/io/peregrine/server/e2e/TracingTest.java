package io.peregrine.server.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import io.peregrine.server.tracing.Tracing;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Request tracing end to end on the real engine (tiny demo checkpoint): one {@code llm_request} span per request
 * under the client's W3C traceparent, with {@code queue}, one {@code prefill_chunk} per forward pass that computed
 * part of the prompt, {@code decode}, and {@code media_encode} per image, collected by the SDK's in-memory exporter.
 */
class TracingTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String TRACE_ID = "0af7651916cd43dd8448eb211c80319c";
    private static final String PARENT_ID = "b7ad6b7169203331";

    @TempDir
    static Path tmp;
    static InMemorySpanExporter spans = InMemorySpanExporter.create();
    static Tracing tracing;
    static TracedServer server;

    @BeforeAll
    static void start() throws Exception {
        tracing = Tracing.using(SimpleSpanProcessor.create(spans), "peregrine-test");
        server = new TracedServer(tmp.resolve("tiny"), tracing, 32);
    }

    @AfterAll
    static void stop() {
        server.close();
        tracing.close();
    }

    @BeforeEach
    void clear() {
        spans.reset();
    }

    /** The finished spans once the request span has ended (it ends as the answer goes out). */
    private static List<SpanData> awaitRequestSpan() throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < end) {
            List<SpanData> done = spans.getFinishedSpanItems();
            if (done.stream().anyMatch(s -> s.getName().equals("llm_request"))) {
                return done;
            }
            Thread.sleep(5);
        }
        throw new AssertionError("no llm_request span; finished: " + spans.getFinishedSpanItems());
    }

    private static SpanData named(List<SpanData> all, String name) {
        return all.stream().filter(s -> s.getName().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no span " + name + " in " + all));
    }

    @Test
    void requestSpanUnderTheClientsTraceparentWithQueuePrefillChunksAndDecode() throws Exception {
        String prompt = "Peregrine falcons ".repeat(20);
        HttpResponse<String> r = server.post("/v1/chat/completions", "{\"model\":\"demo\",\"max_tokens\":6,"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"" + prompt + "\"}]}",
                "traceparent", "00-" + TRACE_ID + "-" + PARENT_ID + "-01");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode usage = JSON.readTree(r.body()).path("usage");
        int promptTokens = usage.path("prompt_tokens").asInt();
        long completionTokens = usage.path("completion_tokens").asLong();
        String finish = JSON.readTree(r.body()).path("choices").path(0).path("finish_reason").asText();
        List<SpanData> all = awaitRequestSpan();

        SpanData root = named(all, "llm_request");
        assertEquals(TRACE_ID, root.getTraceId());
        assertEquals(PARENT_ID, root.getParentSpanId(), "the client's span is the parent");
        assertEquals(SpanKind.SERVER, root.getKind());
        assertEquals(promptTokens, root.getAttributes().get(AttributeKey.longKey("gen_ai.usage.prompt_tokens")));
        assertEquals(completionTokens, root.getAttributes().get(AttributeKey.longKey("gen_ai.usage.completion_tokens")));
        // The engine's reason: a tool call ends as "stop" there (the API calls it tool_calls).
        assertEquals(finish.equals("length") ? "length" : "stop",
                root.getAttributes().get(AttributeKey.stringKey("gen_ai.response.finish_reason")));
        assertEquals(200L, root.getAttributes().get(AttributeKey.longKey("http.response.status_code")));
        assertEquals("/v1/chat/completions", root.getAttributes().get(AttributeKey.stringKey("http.route")));

        for (SpanData s : all) {
            assertEquals(TRACE_ID, s.getTraceId(), s.getName());
            if (s != root) {
                assertEquals(root.getSpanId(), s.getParentSpanId(), s.getName() + " is a child of the request");
                assertTrue(s.getStartEpochNanos() >= root.getStartEpochNanos()
                        && s.getEndEpochNanos() <= root.getEndEpochNanos(), s.getName() + " within the request");
            }
        }
        SpanData queue = named(all, "queue");
        SpanData decode = named(all, "decode");
        List<SpanData> chunks = all.stream().filter(s -> s.getName().equals("prefill_chunk"))
                .sorted(Comparator.comparingLong(SpanData::getStartEpochNanos)).toList();
        assertTrue(chunks.size() >= promptTokens / 32, promptTokens + " prompt tokens in 32-token chunks: " + chunks.size());
        long next = 0;
        for (SpanData c : chunks) {
            assertEquals(next, c.getAttributes().get(AttributeKey.longKey("peregrine.prefill.start")), "chunks in order");
            next += c.getAttributes().get(AttributeKey.longKey("peregrine.prefill.tokens"));
        }
        assertEquals(promptTokens, next, "the chunks cover the prompt");
        assertTrue(queue.getEndEpochNanos() <= chunks.getFirst().getStartEpochNanos() + 1_000_000, "queue, then prefill");
        assertTrue(chunks.getLast().getEndEpochNanos() <= decode.getStartEpochNanos() + 1_000_000, "prefill, then decode");
        assertEquals(completionTokens, decode.getAttributes().get(AttributeKey.longKey("gen_ai.usage.completion_tokens")));
    }

    @Test
    void withoutTraceparentARequestStartsItsOwnTraceAndStreamsAlike() throws Exception {
        HttpResponse<String> r = server.post("/v1/chat/completions", "{\"model\":\"demo\",\"max_tokens\":3,\"stream\":true,"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertEquals(200, r.statusCode());
        SpanData root = named(awaitRequestSpan(), "llm_request");
        assertFalse(root.getParentSpanContext().isValid(), "a root span");
        assertTrue(root.getAttributes().get(AttributeKey.longKey("gen_ai.usage.completion_tokens")) > 0);
    }

    @Test
    void imagesGetAMediaEncodeSpanUnderTheirRequest() throws Exception {
        BufferedImage img = new BufferedImage(64, 48, BufferedImage.TYPE_INT_RGB);
        img.createGraphics().setColor(Color.ORANGE);
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        ImageIO.write(img, "png", png);
        String url = "data:image/png;base64," + Base64.getEncoder().encodeToString(png.toByteArray());
        HttpResponse<String> r = server.post("/v1/chat/completions", "{\"model\":\"demo\",\"max_tokens\":2,"
                + "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is it?\"},"
                + "{\"type\":\"image_url\",\"image_url\":{\"url\":\"" + url + "\"}}]}]}");
        assertEquals(200, r.statusCode(), r.body());
        List<SpanData> all = awaitRequestSpan();
        SpanData root = named(all, "llm_request");
        SpanData media = named(all, "media_encode");
        assertEquals(root.getSpanId(), media.getParentSpanId());
        assertTrue(media.getAttributes().get(AttributeKey.longKey("peregrine.media.tokens")) > 0);
    }

    @Test
    void aRefusedRequestEndsItsSpanWithItsStatus() throws Exception {
        HttpResponse<String> r = server.post("/v1/chat/completions", "{\"model\":\"demo\",\"messages\":[]}");
        assertEquals(400, r.statusCode());
        SpanData root = named(awaitRequestSpan(), "llm_request");
        assertEquals(400L, root.getAttributes().get(AttributeKey.longKey("http.response.status_code")));
    }
}
