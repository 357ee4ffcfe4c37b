package io.peregrine.server.media;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.engine.chat.ChatTemplate;
import io.peregrine.engine.chat.PromptEncoder;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.checkpoint.demo.DemoCheckpoint;
import io.peregrine.engine.media.MediaBudget;
import io.peregrine.engine.media.MediaInputException;
import io.peregrine.engine.media.MediaProcessor;
import io.peregrine.engine.media.pdf.PdfLimits;
import io.peregrine.engine.media.video.VideoLimits;
import io.peregrine.engine.media.video.VideoProcessorConfig;
import io.peregrine.engine.sched.PendingMedia;
import io.peregrine.engine.tokenizer.KimiTokenizer;
import io.peregrine.engine.vision.decode.ImageDecoder;
import io.peregrine.engine.vision.encoder.MoonVitGraph;
import io.peregrine.engine.vision.encoder.OnnxVisionEncoder;
import io.peregrine.engine.vision.encoder.VisionEmbeddingCache;
import io.peregrine.engine.vision.encoder.VisionEmbeddings;
import io.peregrine.engine.vision.encoder.VisionEncoder;
import io.peregrine.engine.vision.preprocess.ImagePreprocessor;
import io.peregrine.engine.vision.preprocess.PreprocessedImage;
import io.peregrine.server.app.HttpServer;
import io.peregrine.server.app.ServerConfig;
import io.peregrine.server.metrics.ServerMetrics;
import io.peregrine.server.prompt.ChatInput;
import io.peregrine.server.prompt.ChatPrompt;
import io.peregrine.server.prompt.ChatPromptBuilder;
import io.peregrine.server.prompt.InvalidPromptException;
import io.peregrine.server.prompt.OutputSpec;
import io.peregrine.server.serving.ModelRuntime;
import io.peregrine.server.serving.ServingState;
import io.peregrine.server.wiring.KimiChatPromptBuilder;
import io.peregrine.server.wiring.RuntimeLoader;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A video's later chunks encode while the engine prefills (real HTTP, the tiny demo checkpoint, MoonViT on ONNX
 * Runtime): the fixture's second chunk is held back in the encoder until the client has seen the stream start, so
 * the prefill provably began before that chunk existed; the answer equals a run without holding back; a chunk that
 * fails after submission is a 400 before any byte, an SSE error event after the headers; a client that goes away
 * cancels the encode still pending.
 */
class StreamedVideoHttpTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path tmp;
    static ServingState state;
    static ServerMetrics metrics;
    static HttpServer server;
    static HttpClient http;
    static Checkpoint checkpoint;
    static OnnxVisionEncoder onnx;
    static ExecutorService mediaThreads;
    static ModelRuntime loaded;
    static String videoUrl;
    /** The builder requests go through; each test installs its own (fresh encoder cache, its own encoder). */
    static final AtomicReference<KimiChatPromptBuilder> builder = new AtomicReference<>();
    /** The pending media of the last prompt built. */
    static final AtomicReference<PendingMedia> lastPending = new AtomicReference<>();

    /** Holds (or fails) the second video chunk's encode until released. */
    static final class GatedEncoder implements VisionEncoder {
        final CountDownLatch release = new CountDownLatch(1);
        final CountDownLatch holding = new CountDownLatch(1);
        final AtomicInteger videoChunks = new AtomicInteger();
        final boolean fail;

        GatedEncoder(boolean fail) {
            this.fail = fail;
        }

        @Override
        public VisionEmbeddings encode(PreprocessedImage image) {
            if (image.sourceSha256().startsWith("video:") && videoChunks.incrementAndGet() == 2) {
                holding.countDown();
                try {
                    if (!release.await(20, TimeUnit.SECONDS)) {
                        throw new IllegalStateException("never released");
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException(e);
                }
                if (fail) {
                    throw new MediaInputException(MediaInputException.Reason.CORRUPT,
                            "messages[0].content[1]: decoding failed at chunk 2 (Invalid data found when processing input)");
                }
            }
            return onnx.encode(image);
        }

        @Override
        public int outputHidden() {
            return onnx.outputHidden();
        }

        @Override
        public void close() {}
    }

    @BeforeAll
    static void start() throws Exception {
        Path ck = DemoCheckpoint.ensure(tmp.resolve("tiny"), "tiny");
        state = new ServingState();
        metrics = new ServerMetrics("tiny", state::stats);
        server = HttpServer.start(ServerConfig.defaults().withPort(0), state, metrics);
        var media = new RuntimeLoader.MediaOptions(false, tmp.resolve("onnx"), MediaFetchPolicy.DATA_URLS_ONLY,
                MediaBudget.DEFAULT, 0);
        loaded = RuntimeLoader.load(new RuntimeLoader.Options(ck, List.of("tiny"), 4096, 4, 16, 512, 32L << 20, 16,
                "cpu", "tiny", media), state);
        checkpoint = Checkpoint.open(ck);
        onnx = OnnxVisionEncoder.open(checkpoint,
                new OnnxVisionEncoder.Options(tmp.resolve("onnx"), 2, false, MoonVitGraph.Attention.FUSED, false));
        mediaThreads = KimiChatPromptBuilder.Multimodal.defaultThreads();
        ChatPromptBuilder delegating = new ChatPromptBuilder() {
            @Override
            public ChatPrompt build(ChatInput input) throws InvalidPromptException {
                return remember(builder.get().build(input));
            }

            @Override
            public ChatPrompt build(ChatInput input, OutputSpec output) throws InvalidPromptException {
                return remember(builder.get().build(input, output));
            }

            private ChatPrompt remember(ChatPrompt p) {
                lastPending.set(p.laterMedia() == null ? null : p.laterMedia().target());
                return p;
            }
        };
        state.ready(new ModelRuntime(loaded.servedModelNames(), loaded.root(), loaded.engine(), loaded.codec(),
                delegating));
        byte[] mp4 = Files.readAllBytes(Path.of(System.getProperty("peregrine.testdata", "../testdata"), "media",
                "tiny_3s_4fps.mp4"));
        videoUrl = "data:video/mp4;base64," + Base64.getEncoder().encodeToString(mp4);
        http = HttpClient.newHttpClient();
    }

    @AfterAll
    static void stop() {
        loaded.engine().close();
        server.close();
        metrics.close();
        http.close();
        mediaThreads.shutdownNow();
        onnx.close();
        checkpoint.close();
    }

    @BeforeEach
    void plainEncoder() {
        use(onnx);
    }

    static void use(VisionEncoder encoder) {
        KimiTokenizer tokenizer = KimiTokenizer.fromDirectory(Path.of(loaded.root()));
        MediaProcessor processor = new MediaProcessor(new ImageDecoder(), new ImagePreprocessor(), encoder,
                new VisionEmbeddingCache(64L << 20), VideoProcessorConfig.K25,
                new MediaBudget(65536, VideoLimits.DEFAULT, PdfLimits.DEFAULT));
        builder.set(new KimiChatPromptBuilder(
                new PromptEncoder(ChatTemplate.fromCheckpoint(Path.of(loaded.root())), tokenizer),
                new KimiChatPromptBuilder.Multimodal(new MediaFetcher(MediaFetchPolicy.DATA_URLS_ONLY), processor,
                        tokenizer, mediaThreads)));
    }

    static String body(boolean stream, int maxTokens) {
        return "{\"model\":\"tiny\",\"max_tokens\":" + maxTokens + ",\"temperature\":0,\"stream\":" + stream
                + ",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What happens here?\"},"
                + "{\"type\":\"video_url\",\"video_url\":{\"url\":\"" + videoUrl + "\"}}]}]}";
    }

    static HttpRequest post(String body) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/v1/chat/completions"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build();
    }

    static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(5);
        }
    }

    static void engineIdle() throws InterruptedException {
        await(() -> state.stats().running() == 0 && state.stats().kvBlocksUsed() == 0, "the engine to be idle");
    }

    @Test
    void theStreamStartsBeforeTheSecondChunkIsEncodedAndAnswersAsWithoutWaiting() throws Exception {
        HttpResponse<String> reference = http.send(post(body(false, 6)), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, reference.statusCode(), reference.body());
        JsonNode expected = JSON.readTree(reference.body());
        engineIdle();

        GatedEncoder gated = new GatedEncoder(false);
        use(gated);
        HttpResponse<Stream<String>> r = http.send(post(body(true, 6).replace("\"stream\":true",
                "\"stream\":true,\"stream_options\":{\"include_usage\":true}")), HttpResponse.BodyHandlers.ofLines());
        assertEquals(200, r.statusCode());
        Iterator<String> lines = r.body().iterator();
        String first = lines.next();
        assertTrue(first.startsWith("data: ") && first.contains("\"role\":\"assistant\""), first);
        assertTrue(gated.holding.await(10, TimeUnit.SECONDS), "the second chunk is being encoded");
        assertEquals(2, gated.videoChunks.get(), "the stream started while chunk 2 was held in the encoder");
        PendingMedia pending = lastPending.get();
        assertNotNull(pending, "the 2-chunk video's second chunk was submitted pending");
        assertEquals(0, pending.completedCount());
        gated.release.countDown();

        StringBuilder content = new StringBuilder();
        JsonNode usage = null;
        while (lines.hasNext()) {
            String line = lines.next();
            if (!line.startsWith("data: ") || line.equals("data: [DONE]")) {
                continue;
            }
            JsonNode chunk = JSON.readTree(line.substring(6));
            assertFalse(chunk.has("error"), line);
            if (chunk.get("usage") != null && !chunk.get("usage").isNull()) {
                usage = chunk.get("usage");
            }
            for (JsonNode c : chunk.get("choices")) {
                JsonNode text = c.path("delta").path("content");
                if (text.isTextual()) {
                    content.append(text.asText());
                }
            }
        }
        JsonNode message = expected.get("choices").get(0).get("message");
        assertEquals(message.path("content").asText(""), content.toString());
        assertNotNull(usage);
        assertEquals(expected.get("usage").get("prompt_tokens").asInt(), usage.get("prompt_tokens").asInt());
        engineIdle();
    }

    @Test
    void aChunkFailingAfterSubmissionIsA400BeforeAnyByte() throws Exception {
        GatedEncoder failing = new GatedEncoder(true);
        use(failing);
        failing.release.countDown();
        HttpResponse<String> r = http.send(post(body(false, 4)), HttpResponse.BodyHandlers.ofString());
        assertEquals(400, r.statusCode(), r.body());
        JsonNode e = JSON.readTree(r.body()).get("error");
        assertEquals("invalid_request_error", e.get("type").asText());
        assertTrue(e.get("message").asText().contains("decoding failed at chunk 2"), e.toString());
        assertNotNull(lastPending.get());
        engineIdle();
        use(onnx);
        assertEquals(200, http.send(post(body(false, 2)), HttpResponse.BodyHandlers.ofString()).statusCode(),
                "the server still serves");
    }

    @Test
    void aChunkFailingAfterTheHeadersIsAnSseErrorEvent() throws Exception {
        GatedEncoder failing = new GatedEncoder(true);
        use(failing);
        HttpResponse<Stream<String>> r = http.send(post(body(true, 4)), HttpResponse.BodyHandlers.ofLines());
        assertEquals(200, r.statusCode());
        Iterator<String> lines = r.body().iterator();
        assertTrue(lines.next().contains("\"role\":\"assistant\""));
        assertTrue(failing.holding.await(10, TimeUnit.SECONDS));
        failing.release.countDown();
        String error = null;
        while (lines.hasNext()) {
            String line = lines.next();
            if (line.startsWith("data: ") && line.contains("\"error\"")) {
                error = line;
            }
        }
        assertNotNull(error, "no error event");
        JsonNode e = JSON.readTree(error.substring(6)).get("error");
        assertEquals("invalid_request_error", e.get("type").asText(), error);
        assertTrue(e.get("message").asText().contains("decoding failed at chunk 2"), error);
        engineIdle();
    }

    @Test
    void aClientThatGoesAwayCancelsThePendingEncode() throws Exception {
        GatedEncoder gated = new GatedEncoder(false);
        use(gated);
        String body = body(true, 4);
        try (Socket socket = new Socket("127.0.0.1", server.port())) {
            OutputStream out = socket.getOutputStream();
            out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body)
                    .getBytes(StandardCharsets.UTF_8));
            out.flush();
            InputStream in = socket.getInputStream();
            byte[] buf = new byte[256];
            int n = in.read(buf);
            assertTrue(new String(buf, 0, n, StandardCharsets.US_ASCII).startsWith("HTTP/1.1 200"));
            assertTrue(gated.holding.await(10, TimeUnit.SECONDS));
        }
        PendingMedia pending = lastPending.get();
        await(pending::isCancelled, "the disconnect to cancel the pending chunk");
        engineIdle();
        gated.release.countDown();
        assertEquals(0, pending.completedCount(), "the chunk encoded after the abort is dropped");
    }

    @Test
    void aHangUpMidWayThroughAPdfStopsItsPagesFromBeingRenderedAndEncoded() throws Exception {
        AtomicInteger pages = new AtomicInteger();
        CountDownLatch holding = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        use(new VisionEncoder() {
            @Override
            public VisionEmbeddings encode(PreprocessedImage image) {
                if (image.sourceSha256().startsWith("pdf:") && pages.incrementAndGet() == 2) {
                    holding.countDown();
                    try {
                        release.await(20, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                return onnx.encode(image);
            }

            @Override
            public int outputHidden() {
                return onnx.outputHidden();
            }

            @Override
            public void close() {}
        });
        String pdf = "data:application/pdf;base64," + Base64.getEncoder().encodeToString(MultimodalHttpTest.pdf(4));
        String body = "{\"model\":\"tiny\",\"max_tokens\":4,\"messages\":[{\"role\":\"user\",\"content\":["
                + "{\"type\":\"file\",\"file\":{\"file_data\":\"" + pdf + "\"}}]}]}";
        try (Socket socket = new Socket("127.0.0.1", server.port())) {
            socket.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                    + "application/json\r\nContent-Length: " + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n"
                    + body).getBytes(StandardCharsets.UTF_8));
            socket.getOutputStream().flush();
            assertTrue(holding.await(10, TimeUnit.SECONDS), "page 2 is being encoded after submission");
        } // not streamed: nothing unread, so the hang-up is a plain FIN
        PendingMedia pending = lastPending.get();
        await(pending::isCancelled, "the hang-up to cancel the PDF's pending pages");
        engineIdle();
        release.countDown();
        Thread.sleep(300);
        assertEquals(2, pages.get(), "pages 3 and 4 were rendered and encoded for nobody");
    }
}
