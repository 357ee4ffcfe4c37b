package io.peregrine.server.media;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.engine.chat.ChatMessage;
import io.peregrine.engine.chat.ChatTemplate;
import io.peregrine.engine.chat.PromptEncoder;
import io.peregrine.engine.chat.RenderOptions;
import io.peregrine.engine.checkpoint.demo.DemoCheckpoint;
import io.peregrine.engine.media.MediaBudget;
import io.peregrine.engine.media.pdf.PageRaster;
import io.peregrine.engine.media.pdf.PdfLimits;
import io.peregrine.engine.media.pdf.PdfPages;
import io.peregrine.engine.media.video.ChunkResize;
import io.peregrine.engine.media.video.FfmpegVideo;
import io.peregrine.engine.media.video.VideoLimits;
import io.peregrine.engine.media.video.VideoProcessorConfig;
import io.peregrine.engine.tokenizer.KimiTokenizer;
import io.peregrine.engine.tokenizer.SpecialTextPolicy;
import io.peregrine.engine.vision.encoder.VisionEmbeddingCache;
import io.peregrine.engine.vision.preprocess.ImagePreprocessor;
import io.peregrine.server.chat.EngineMessages;
import io.peregrine.server.app.HttpServer;
import io.peregrine.server.app.ServerConfig;
import io.peregrine.server.metrics.ServerMetrics;
import io.peregrine.server.serving.ServingState;
import io.peregrine.server.wiring.KimiChatPromptBuilder;
import io.peregrine.server.wiring.RuntimeLoader;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import javax.imageio.ImageIO;
import org.apache.pdfbox.pdmodel.PDDocument;
import org.apache.pdfbox.pdmodel.PDPage;
import org.apache.pdfbox.pdmodel.PDPageContentStream;
import org.apache.pdfbox.pdmodel.common.PDRectangle;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Images, a video and a PDF over real HTTP into the tiny demo checkpoint (text model + MoonViT on ONNX Runtime):
 * prompt_tokens counts every vision token exactly, a resent image hits the encoder cache and the prefix cache, and
 * bad media get OpenAI-shaped 400s.
 */
class MultimodalHttpTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path tmp;
    static ServingState state;
    static ServerMetrics metrics;
    static HttpServer server;
    static HttpClient http;
    static PromptEncoder prompts;
    static KimiTokenizer tokenizer;
    static VisionEmbeddingCache encoderCache;
    static Path mediaDir;

    @BeforeAll
    static void start() throws Exception {
        Path ck = DemoCheckpoint.ensure(tmp.resolve("tiny"), "tiny");
        mediaDir = Files.createDirectories(tmp.resolve("media"));
        Files.write(mediaDir.resolve("shot.png"), png(90, 60, Color.ORANGE));
        Files.write(tmp.resolve("outside.png"), png(90, 60, Color.ORANGE));
        state = new ServingState();
        metrics = new ServerMetrics("tiny", state::stats);
        server = HttpServer.start(ServerConfig.defaults().withPort(0), state, metrics);
        MediaFetchPolicy fetch = new MediaFetchPolicy(mediaDir, true, false, Duration.ofSeconds(2), 8L << 20);
        MediaBudget budget = new MediaBudget(4096, VideoLimits.DEFAULT, new PdfLimits(8L << 20, 4));
        var media = new RuntimeLoader.MediaOptions(true, tmp.resolve("onnx"), fetch, budget, 64L << 20);
        var rt = RuntimeLoader.load(new RuntimeLoader.Options(ck, List.of("tiny"), 4096, 4, 16, 512, 32L << 20, 16,
                "cpu", "tiny", media), state);
        state.ready(rt);
        encoderCache = ((KimiChatPromptBuilder) rt.prompts()).multimodal().processor().cache();
        tokenizer = KimiTokenizer.fromDirectory(ck);
        prompts = new PromptEncoder(ChatTemplate.fromCheckpoint(ck), tokenizer);
        http = HttpClient.newHttpClient();
    }

    @AfterAll
    static void stop() {
        if (state.runtimeOrNull() != null) {
            state.runtimeOrNull().engine().close();
        }
        server.close();
        metrics.close();
        http.close();
    }

    static byte[] png(int w, int h, Color c) throws IOException {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setColor(c);
        g.fillRect(0, 0, w, h);
        g.setColor(Color.BLUE);
        g.fillOval(w / 4, h / 4, w / 2, h / 2);
        g.dispose();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(img, "png", out);
        return out.toByteArray();
    }

    static String dataUrl(String type, byte[] bytes) {
        return "data:" + type + ";base64," + Base64.getEncoder().encodeToString(bytes);
    }

    static String part(String type, String url) {
        return "{\"type\":\"" + type + "\",\"" + type + "\":{\"url\":\"" + url + "\"}}";
    }

    static String request(String... parts) {
        return "{\"model\":\"tiny\",\"max_tokens\":2,\"temperature\":0,\"messages\":[{\"role\":\"user\",\"content\":["
                + "{\"type\":\"text\",\"text\":\"Describe this.\"}" + (parts.length == 0 ? "" : "," + String.join(",", parts))
                + "]}]}";
    }

    static HttpResponse<String> post(String body) throws Exception {
        return post("/v1/chat/completions", body);
    }

    static HttpResponse<String> post(String path, String body) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    static JsonNode ok(String body) throws Exception {
        HttpResponse<String> r = post(body);
        assertEquals(200, r.statusCode(), r.body());
        return JSON.readTree(r.body()).get("usage");
    }

    static JsonNode error(String body, String messagePart) throws Exception {
        HttpResponse<String> r = post(body);
        assertEquals(400, r.statusCode(), r.body());
        JsonNode e = JSON.readTree(r.body()).get("error");
        assertNotNull(e, r.body());
        assertEquals("invalid_request_error", e.get("type").asText(), r.body());
        assertTrue(e.get("message").asText().contains(messagePart), "expected '" + messagePart + "' in " + e);
        return e;
    }

    /** Prompt ids the server must build, rendered here with each media part as one placeholder. */
    static int[] rendered(String body, List<String> videoTexts) throws Exception {
        List<io.peregrine.api.chat.ChatMessage> sent = List.of(io.peregrine.api.json.Json.newMapper()
                .treeToValue(JSON.readTree(body).get("messages"), io.peregrine.api.chat.ChatMessage[].class));
        List<ChatMessage> messages = EngineMessages.messages(sent, null);
        var enc = prompts.encode(messages, List.of(), new RenderOptions(true, true, false), SpecialTextPolicy.AS_TEXT);
        return videoTexts.isEmpty() ? enc.ids()
                : enc.rendered().expandVideoTexts(videoTexts).tokenize(tokenizer, SpecialTextPolicy.AS_TEXT);
    }

    static int pads(int[] ids) {
        int pad = tokenizer.requireSpecialId("<|media_pad|>");
        int n = 0;
        for (int id : ids) {
            n += id == pad ? 1 : 0;
        }
        return n;
    }

    @Test
    void imagePromptTokensCountEveryVisionToken() throws Exception {
        byte[] img = png(300, 200, Color.GREEN);
        String body = request(part("image_url", dataUrl("image/png", img)));
        int[] ids = rendered(body, List.of());
        assertEquals(1, pads(ids));
        int imageTokens = new ImagePreprocessor().planImage(300, 200).numTokens();
        assertEquals(88, imageTokens);
        JsonNode usage = ok(body);
        assertEquals(ids.length - 1 + imageTokens, usage.get("prompt_tokens").asInt(), usage.toString());
    }

    @Test
    void resentImageHitsTheEncoderCacheAndThePrefixCache() throws Exception {
        String body = request(part("image_url", dataUrl("image/png", png(200, 150, Color.RED))));
        long misses = encoderCache.misses();
        long hits = encoderCache.hits();
        JsonNode first = ok(body);
        assertEquals(misses + 1, encoderCache.misses());
        JsonNode again = ok(body);
        assertEquals(misses + 1, encoderCache.misses(), "the resent image was encoded again");
        assertTrue(encoderCache.hits() > hits);
        int prompt = again.get("prompt_tokens").asInt();
        int cached = again.get("prompt_tokens_details").get("cached_tokens").asInt();
        assertEquals(first.get("prompt_tokens").asInt(), prompt);
        assertEquals((prompt - 1) / 16 * 16, cached, again.toString());

        // Same size (same ids), other pixels: blocks holding the image must not be reused.
        JsonNode other = ok(request(part("image_url", dataUrl("image/png", png(200, 150, Color.CYAN)))));
        assertEquals(prompt, other.get("prompt_tokens").asInt());
        int otherCached = other.get("prompt_tokens_details").get("cached_tokens").asInt();
        int[] ids = rendered(body, List.of());
        int pad = tokenizer.requireSpecialId("<|media_pad|>");
        int firstPad = 0;
        while (ids[firstPad] != pad) {
            firstPad++;
        }
        assertEquals(firstPad / 16 * 16, otherCached, "only text blocks before the image may be shared");
    }

    @Test
    void moonshotTokenCountIncludesTheImage() throws Exception {
        String body = request(part("image_url", dataUrl("image/png", png(90, 60, Color.ORANGE))));
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port()
                        + "/v1/tokenizers/estimate-token-count")).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        int total = JSON.readTree(r.body()).get("data").get("total_tokens").asInt();
        assertEquals(ok(body).get("prompt_tokens").asInt(), total);
        assertEquals(rendered(request(part("image_url", "x")), List.of()).length - 1
                + new ImagePreprocessor().planImage(90, 60).numTokens(), total);
    }

    @Test
    void localFilesOnlyUnderTheAllowedDirectory() throws Exception {
        JsonNode usage = ok(request(part("image_url", "file://" + mediaDir.resolve("shot.png"))));
        assertEquals(rendered(request(part("image_url", "x")), List.of()).length - 1
                + new ImagePreprocessor().planImage(90, 60).numTokens(), usage.get("prompt_tokens").asInt());
        JsonNode e = error(request(part("image_url", tmp.resolve("outside.png").toString())), "outside the allowed");
        assertEquals("messages[0].content[1]", e.get("param").asText());
        error(request(part("image_url", mediaDir.resolve("../outside.png").toString())), "outside the allowed");
        error(request(part("image_url", "/etc/passwd")), "outside the allowed");
        error(request(part("image_url", mediaDir.resolve("missing.png").toString())), "no such file");
    }

    @Test
    void loopbackAndOddUrlsAreRefused() throws Exception {
        error(request(part("image_url", "http://127.0.0.1:" + server.port() + "/x.png")), "loopback, private");
        error(request(part("image_url", "http://169.254.169.254/latest/meta-data")), "loopback, private");
        error(request(part("image_url", "http://[::1]/a.png")), "loopback, private");
        error(request(part("image_url", "ftp://example.com/a.png")), "unsupported media URL");
    }

    /**
     * A media part the server refuses is named where the client put it, although the Responses API's instructions
     * and merged turns and Anthropic's split tool results shift the conversation's message indices.
     */
    @Test
    void aRefusedMediaPartIsNamedInTheClientsOwnRequest() throws Exception {
        String badUrl = "ftp://example.com/a.png";
        HttpResponse<String> r = post("/v1/responses", "{\"model\":\"tiny\",\"max_output_tokens\":2,"
                + "\"instructions\":\"Be brief.\",\"input\":[{\"role\":\"user\",\"content\":\"hi\"},"
                + "{\"type\":\"reasoning\",\"summary\":[{\"type\":\"summary_text\",\"text\":\"hm\"}]},"
                + "{\"role\":\"assistant\",\"content\":\"hello\"},"
                + "{\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"and this?\"},"
                + "{\"type\":\"input_image\",\"image_url\":\"" + badUrl + "\"}]}]}");
        assertEquals(400, r.statusCode(), r.body());
        JsonNode e = JSON.readTree(r.body()).get("error");
        assertEquals("input[3].content[1]", e.get("param").asText(), r.body());
        assertTrue(e.get("message").asText().startsWith("input[3].content[1]: unsupported media URL"), r.body());

        r = post("/v1/messages", "{\"model\":\"tiny\",\"max_tokens\":2,\"system\":\"Be brief.\",\"messages\":["
                + "{\"role\":\"user\",\"content\":\"look\"},"
                + "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"f\",\"input\":{}}]},"
                + "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t1\",\"content\":\"ok\"},"
                + "{\"type\":\"text\",\"text\":\"and this?\"},"
                + "{\"type\":\"image\",\"source\":{\"type\":\"url\",\"url\":\"" + badUrl + "\"}}]}]}");
        assertEquals(400, r.statusCode(), r.body());
        e = JSON.readTree(r.body()).get("error"); // Anthropic's error body has no param: the message names it
        assertTrue(e.get("message").asText().startsWith("messages[2].content[2]: unsupported media URL"), r.body());
    }

    @Test
    void badMediaAre400WithOpenAiErrorBodies() throws Exception {
        error(request(part("image_url", "data:image/png;base64,@@@not-base64@@@")), "not valid base64");
        byte[] corrupt = png(40, 30, Color.RED);
        corrupt = java.util.Arrays.copyOf(corrupt, corrupt.length / 2);
        error(request(part("image_url", dataUrl("image/png", corrupt))), "messages[0].content[1]");
        error(request(part("image_url", dataUrl("image/png", "hello, world".getBytes()))), "messages[0].content[1]");
        error(request(part("video_url", dataUrl("video/mp4", "not a video at all".getBytes()))), "messages[0].content[1]");
        error(request("{\"type\":\"file\",\"file\":{\"file_data\":\"" + dataUrl("application/pdf", "%PDF-1.7 junk".getBytes())
                + "\"}}"), "PDF");
        // file_data carries bytes; a URL in it is refused as what it is, not as bad base64.
        error(request("{\"type\":\"file\",\"file\":{\"file_data\":\"file:///etc/passwd\"}}"),
                "local files are not allowed");
        error(request("{\"type\":\"file\",\"file\":{\"file_data\":\"https://example.com/a.pdf\"}}"), "not a URL");
        StringBuilder many = new StringBuilder();
        for (int i = 0; i < 17; i++) {
            many.append(i == 0 ? "" : ",").append(part("image_url", "data:image/png;base64,AA=="));
        }
        error(request(many.toString()), "Too many images: 17");
        // 4096 vision tokens per request: one 3000x2000 image needs ~4,100
        error(request(part("image_url", dataUrl("image/png", png(3000, 2000, Color.GRAY)))), "vision tokens");
        assertTrue(ok(request()).get("prompt_tokens").asInt() > 0, "the server still serves");
    }

    @Test
    void videoBecomesOneMediaBlockPerChunk() throws Exception {
        byte[] mp4 = Files.readAllBytes(Path.of(System.getProperty("peregrine.testdata", "../testdata"), "media",
                "tiny_3s_4fps.mp4"));
        String promptText;
        int perChunk;
        int chunks;
        try (FfmpegVideo v = FfmpegVideo.open(mp4, "test", VideoLimits.DEFAULT)) {
            var plan = v.plan(VideoProcessorConfig.K25);
            promptText = plan.promptText();
            chunks = plan.chunks().size();
            perChunk = ChunkResize.of(v.info().width(), v.info().height(), VideoProcessorConfig.K25).tokensPerChunk();
        }
        assertEquals(2, chunks, "12 frames at 4 fps sample 6 frames: two chunks of up to 4");
        String body = request(part("video_url", dataUrl("video/mp4", mp4)));
        int[] ids = rendered(body, List.of(promptText));
        assertEquals(chunks, pads(ids));
        JsonNode usage = ok(body);
        assertEquals(ids.length - chunks + chunks * perChunk, usage.get("prompt_tokens").asInt(), usage.toString());
        assertTrue(promptText.startsWith("00:00:00.000<|media_begin|>video"), promptText);
    }

    @Test
    void pdfPagesBecomeImagesInOrder() throws Exception {
        byte[] pdf = pdf(2);
        int pageTokens = 0;
        try (PdfPages pages = PdfPages.open(pdf, "test", PdfLimits.DEFAULT, PageRaster.K25)) {
            for (int i = 0; i < pages.pageCount(); i++) {
                var page = pages.render(i);
                pageTokens += new ImagePreprocessor().planImage(page.width(), page.height()).numTokens();
            }
        }
        String filePart = "{\"type\":\"file\",\"file\":{\"filename\":\"a.pdf\",\"file_data\":\""
                + dataUrl("application/pdf", pdf) + "\"}}";
        String twoImages = request(part("image_url", "x"), part("image_url", "y"));
        int[] ids = rendered(twoImages, List.of());
        assertEquals(ids.length - 2 + pageTokens, ok(request(filePart)).get("prompt_tokens").asInt());
        // the same PDF as an image_url data URL with a PDF type
        assertEquals(ids.length - 2 + pageTokens,
                ok(request(part("image_url", dataUrl("application/pdf", pdf)))).get("prompt_tokens").asInt());
        error(request("{\"type\":\"file\",\"file\":{\"file_data\":\"" + dataUrl("application/pdf", pdf(5)) + "\"}}"),
                "the limit is 4");
    }

    @Test
    void countingAndTheContextCheckSizePagesAndImagesWithoutRenderingOrEncodingThem() throws Exception {
        String filePart = "{\"type\":\"file\",\"file\":{\"file_data\":\"" + dataUrl("application/pdf", pdf(3)) + "\"}}";
        String image = part("image_url", dataUrl("image/png", png(123, 77, Color.CYAN)));
        String messages = "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Describe this.\"},"
                + filePart + "," + image + "]}]";
        long misses = encoderCache.misses();
        int entries = encoderCache.size();
        HttpResponse<String> tokenize = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port()
                + "/tokenize")).POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"tiny\",\"messages\":" + messages
                + "}")).header("Content-Type", "application/json").build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, tokenize.statusCode(), tokenize.body());
        int counted = JSON.readTree(tokenize.body()).get("count").asInt();
        assertEquals(misses, encoderCache.misses(), "counting encoded (and so rendered or decoded) something");
        assertEquals(entries, encoderCache.size());
        // A request that cannot fit the context is refused from the same sizes, before anything is encoded.
        String tooLong = request(filePart, image).replace("\"max_tokens\":2", "\"max_tokens\":" + (4096 - counted + 1));
        error(tooLong, "maximum context length");
        assertEquals(misses, encoderCache.misses(), "the context check encoded something");
        // And the count is what generating from the same messages prefills.
        assertEquals(counted, ok(request(filePart, image)).get("prompt_tokens").asInt());
        assertTrue(encoderCache.misses() >= misses + 4, "three pages and the image were encoded to generate");
    }

    static byte[] pdf(int pages) throws IOException {
        try (PDDocument doc = new PDDocument()) {
            for (int i = 0; i < pages; i++) {
                PDPage page = new PDPage(new PDRectangle(144, 96)); // 2 x 1.33 inch: small, quick to render
                doc.addPage(page);
                try (PDPageContentStream cs = new PDPageContentStream(doc, page)) {
                    cs.setNonStrokingColor(i % 2 == 0 ? Color.RED : Color.BLUE);
                    cs.addRect(10, 10, 60 + 20 * i, 40);
                    cs.fill();
                }
            }
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            doc.save(out);
            return out.toByteArray();
        }
    }

}
