package io.peregrine.server.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.anthropic.client.AnthropicClient;
import com.anthropic.client.okhttp.AnthropicOkHttpClient;
import com.anthropic.core.JsonValue;
import com.anthropic.core.http.StreamResponse;
import com.anthropic.helpers.MessageAccumulator;
import com.anthropic.models.messages.ContentBlock;
import com.anthropic.models.messages.ContentBlockParam;
import com.anthropic.models.messages.Message;
import com.anthropic.models.messages.MessageCountTokensParams;
import com.anthropic.models.messages.MessageCreateParams;
import com.anthropic.models.messages.RawMessageStreamEvent;
import com.anthropic.models.messages.StopReason;
import com.anthropic.models.messages.ThinkingBlockParam;
import com.anthropic.models.messages.ThinkingConfigDisabled;
import com.anthropic.models.messages.ThinkingConfigEnabled;
import com.anthropic.models.messages.Tool;
import com.anthropic.models.messages.ToolChoiceAny;
import com.anthropic.models.messages.ToolChoiceTool;
import com.anthropic.models.messages.ToolResultBlockParam;
import com.anthropic.models.messages.ToolUseBlock;
import com.anthropic.models.messages.ToolUseBlockParam;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.engine.tokenizer.KimiTokenizer;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The official Anthropic Java SDK over loopback against the real engine, template and parser (tiny demo
 * checkpoint, random weights: they never close a think block on their own and never call a tool unasked). The
 * tests check what must hold for any model: stream = non-stream, the thinking switch and budget, forced tool use,
 * history with tool results and unsigned thinking, count_tokens = the prefilled prompt, stop sequences,
 * max_tokens, and that a dropped stream frees its request.
 */
class AnthropicSdkTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path dir;
    private static RealEngineServer server;
    private static AnthropicClient client;
    private static KimiTokenizer tokenizer;

    @BeforeAll
    static void start() throws Exception {
        server = new RealEngineServer(dir.resolve("tiny"), 2);
        client = AnthropicOkHttpClient.builder().baseUrl(server.baseUrl()).apiKey("unused").maxRetries(0).build();
        tokenizer = KimiTokenizer.fromDirectory(dir.resolve("tiny"));
    }

    @AfterAll
    static void stop() {
        client.close();
        server.close();
    }

    private static MessageCreateParams.Builder ask(String text, long maxTokens) {
        return MessageCreateParams.builder().model(RealEngineServer.MODEL).maxTokens(maxTokens).addUserMessage(text);
    }

    private static MessageCreateParams.Builder instant(MessageCreateParams.Builder b) {
        return b.thinking(ThinkingConfigDisabled.builder().build());
    }

    @Test
    void outputFormatMakesTheAnswerJsonOfTheSchema() throws Exception {
        // random weights never write JSON on their own: what parses and validates here is the grammar's doing
        Map<String, Object> schema = Map.of("type", "object", "properties", Map.of("falcon", Map.of("type", "string",
                "maxLength", 10), "fast", Map.of("type", "boolean")), "required", List.of("falcon", "fast"),
                "additionalProperties", false);
        for (String field : List.of("output_format", "output_config")) {
            Object format = Map.of("type", "json_schema", "schema", schema);
            MessageCreateParams params = instant(ask("A falcon, as JSON.", 60))
                    .putAdditionalBodyProperty("temperature", JsonValue.from(0.0)).putAdditionalBodyProperty(field,
                    JsonValue.from(field.equals("output_format") ? format : Map.of("format", format))).build();
            Message m = client.messages().create(params);
            assertEquals(StopReason.END_TURN, m.stopReason().orElseThrow(), field + ": " + text(m));
            JsonNode value = JSON.readTree(text(m));
            java.util.Set<String> keys = new java.util.HashSet<>();
            value.fieldNames().forEachRemaining(keys::add);
            assertEquals(java.util.Set.of("falcon", "fast"), keys, field + ": " + value);
            assertTrue(value.get("falcon").isTextual() && value.get("fast").isBoolean(), field + ": " + value);
            assertEquals(blocks(m), blocks(streamed(params)), field + ": streamed alike");
        }
        var e = assertThrows(com.anthropic.errors.BadRequestException.class, () -> client.messages().create(
                instant(ask("x", 8)).putAdditionalBodyProperty("output_format", JsonValue.from(Map.of("type",
                        "json_schema", "schema", Map.of("type", "string", "format", "date")))).build()));
        assertTrue(e.getMessage().contains("output_format.schema"), e.getMessage());
        e = assertThrows(com.anthropic.errors.BadRequestException.class, () -> client.messages().create(
                instant(ask("x", 8)).putAdditionalBodyProperty("output_config", JsonValue.from(Map.of("effort",
                        "low"))).build()));
        assertTrue(e.getMessage().contains("output_config.effort"), e.getMessage());
        server.awaitIdle();
    }

    private static Message streamed(MessageCreateParams params) {
        MessageAccumulator acc = MessageAccumulator.create();
        try (StreamResponse<RawMessageStreamEvent> s = client.messages().createStreaming(params)) {
            s.stream().forEach(acc::accumulate);
        }
        return acc.message();
    }

    /** The blocks as comparable text: type and payload, in order. */
    private static List<String> blocks(Message m) {
        List<String> out = new ArrayList<>();
        for (ContentBlock b : m.content()) {
            if (b.isText()) {
                out.add("text:" + b.asText().text());
            } else if (b.isThinking()) {
                out.add("thinking:" + b.asThinking().thinking() + "|" + b.asThinking().signature());
            } else if (b.isToolUse()) {
                ToolUseBlock t = b.asToolUse();
                out.add("tool_use:" + t.id() + "|" + t.name() + "|" + t._input().convert(Map.class));
            } else {
                out.add("other:" + b);
            }
        }
        return out;
    }

    private static String text(Message m) {
        StringBuilder sb = new StringBuilder();
        m.content().stream().filter(ContentBlock::isText).forEach(b -> sb.append(b.asText().text()));
        return sb.toString();
    }

    private static Tool tool(String name) {
        return Tool.builder().name(name).description("Tells the " + name.substring(4))
                .inputSchema(Tool.InputSchema.builder().properties(JsonValue.from(Map.of())).build()).build();
    }

    @Test
    void streamingGivesWhatNonStreamingGivesForASeededRequest() {
        for (boolean thinking : new boolean[] {false, true}) {
            MessageCreateParams.Builder b = ask("Tell me about peregrine falcons and how fast they dive.", 12)
                    .putAdditionalBodyProperty("temperature", JsonValue.from(0.8)).putAdditionalBodyProperty("seed", JsonValue.from(1234));
            MessageCreateParams params = (thinking ? b : instant(b)).build();
            // Warm the prefix cache first so both runs prefill the same way: a prefill over cached blocks sums in
            // another order than a fresh one, and sampling at temperature 0.8 over random weights can flip on that.
            client.messages().create(params);
            Message whole = client.messages().create(params);
            Message stream = streamed(params);
            assertFalse(blocks(whole).isEmpty(), whole.toString());
            assertEquals(blocks(whole), blocks(stream));
            assertEquals(whole.stopReason(), stream.stopReason());
            assertEquals(whole.usage().outputTokens(), stream.usage().outputTokens());
            assertEquals(whole.usage().inputTokens() + whole.usage().cacheReadInputTokens().orElse(0L),
                    stream.usage().inputTokens() + stream.usage().cacheReadInputTokens().orElse(0L));
            assertTrue(whole.id().startsWith("msg_"), whole.id());
            assertEquals(RealEngineServer.MODEL, whole.model().asString());
        }
    }

    @Test
    void thinkingOnGivesAThinkingBlockAndOffGivesText() {
        Message on = client.messages().create(ask("Why is the sky blue?", 10).build()); // Kimi's default: thinking
        assertEquals(1, on.content().size(), on.toString());
        assertTrue(on.content().getFirst().isThinking(), on.toString());
        assertFalse(on.content().getFirst().asThinking().signature().isEmpty());
        int think = tokenizer.requireSpecialId("<think>");
        int[] prompt = server.lastSubmitted().promptIds();
        assertEquals(think, prompt[prompt.length - 1], "the thinking prompt ends with <think>");

        Message off = client.messages().create(instant(ask("Why is the sky blue?", 10)).build());
        assertTrue(off.content().stream().noneMatch(ContentBlock::isThinking), off.toString());
        assertFalse(text(off).isEmpty(), off.toString());
    }

    @Test
    void budgetTokensEndsTheThinkingAndTheAnswerFollows() {
        // Random weights never close the think block: without a budget all 24 tokens are thinking.
        Message unbounded = client.messages().create(ask("Plan a trip to the mountains.", 24).putAdditionalBodyProperty("temperature", JsonValue.from(0.0)).build());
        assertEquals(1, unbounded.content().size(), unbounded.toString());
        Message bounded = client.messages().create(ask("Plan a trip to the mountains.", 24).putAdditionalBodyProperty("temperature", JsonValue.from(0.0))
                .thinking(ThinkingConfigEnabled.builder().budgetTokens(4).build()).build());
        assertTrue(bounded.content().getFirst().isThinking(), bounded.toString());
        String cut = bounded.content().getFirst().asThinking().thinking();
        assertTrue(unbounded.content().getFirst().asThinking().thinking().startsWith(cut),
                "the same reasoning, cut after the budget: '" + cut + "'");
        assertTrue(bounded.content().size() >= 2 && bounded.content().get(1).isText(), bounded.toString());
        assertEquals(blocks(bounded), blocks(streamed(ask("Plan a trip to the mountains.", 24).putAdditionalBodyProperty("temperature", JsonValue.from(0.0))
                .thinking(ThinkingConfigEnabled.builder().budgetTokens(4).build()).build())));
    }

    @Test
    void toolChoiceAnyGivesAToolUseBlock() {
        MessageCreateParams params = instant(ask("What time is it?", 40)).putAdditionalBodyProperty("temperature", JsonValue.from(0.0))
                .addTool(tool("get_time")).addTool(tool("get_date"))
                .toolChoice(ToolChoiceAny.builder().build()).build();
        Message m = client.messages().create(params);
        assertEquals(StopReason.TOOL_USE, m.stopReason().orElseThrow(), m.toString());
        ToolUseBlock call = m.content().stream().filter(ContentBlock::isToolUse).findFirst().orElseThrow().asToolUse();
        assertTrue(call.name().equals("get_time") || call.name().equals("get_date"), call.name());
        assertEquals("functions." + call.name() + ":0", call.id());
        assertEquals(Map.of(), call._input().convert(Map.class), "the input is an object");
        assertEquals(blocks(m), blocks(streamed(params)));
        assertEquals(StopReason.TOOL_USE, streamed(params).stopReason().orElseThrow());
    }

    @Test
    void disableParallelToolUseUnderAutoAllowsOneCall() {
        MessageCreateParams.Builder b = instant(ask("What time is it?", 4)).addTool(tool("get_time"));
        client.messages().create(b.toolChoice(com.anthropic.models.messages.ToolChoiceAuto.builder().build()).build());
        assertTrue(afterOneCall(server.lastSubmitted().constraint()).contains(
                tokenizer.requireSpecialId("<|tool_call_begin|>")), "auto alone: a second call may follow");
        client.messages().create(b.toolChoice(com.anthropic.models.messages.ToolChoiceAuto.builder()
                .disableParallelToolUse(true).build()).build());
        assertEquals(List.of(tokenizer.requireSpecialId("<|tool_calls_section_end|>")),
                afterOneCall(server.lastSubmitted().constraint()), "disable_parallel_tool_use: the section ends");
    }

    /** Drives a choice's constraint through one get_time call; the tokens it allows next. */
    private static List<Integer> afterOneCall(io.peregrine.engine.runtime.TokenConstraint.Factory f) {
        io.peregrine.engine.runtime.TokenConstraint c = f.forChoice(0);
        c.accept(tokenizer.requireSpecialId("<|tool_calls_section_begin|>"));
        c.accept(tokenizer.requireSpecialId("<|tool_call_begin|>"));
        for (int id : tokenizer.encodeOrdinary("functions.get_time:0")) {
            c.accept(id);
        }
        c.accept(tokenizer.requireSpecialId("<|tool_call_argument_begin|>"));
        for (int id : tokenizer.encodeOrdinary("{}")) {
            c.accept(id);
        }
        c.accept(tokenizer.requireSpecialId("<|tool_call_end|>"));
        float[] logits = new float[tokenizer.vocabSize()];
        c.mask(logits);
        List<Integer> allowed = new ArrayList<>();
        for (int i = 0; i < logits.length; i++) {
            if (logits[i] != Float.NEGATIVE_INFINITY) {
                allowed.add(i);
            }
        }
        return allowed;
    }

    @Test
    void aFollowUpWithToolResultAndUnsignedThinkingIsAccepted() {
        String thought = "The user wants the time; I should call get_time.";
        // Thinking mode (the template shows an earlier tool turn's reasoning only then), with a budget: random weights
        // never end their reasoning, so the budget ends it and the tool_choice constraint then makes the call.
        MessageCreateParams params = (MessageCreateParams.builder().model(RealEngineServer.MODEL).maxTokens(40)
                .thinking(ThinkingConfigEnabled.builder().budgetTokens(4).build())
                .putAdditionalBodyProperty("temperature", JsonValue.from(0.0))
                .addUserMessage("What time is it?")
                .addAssistantMessageOfContentBlockParams(List.of(
                        ContentBlockParam.ofThinking(ThinkingBlockParam.builder().thinking(thought).signature("").build()),
                        ContentBlockParam.ofToolUse(ToolUseBlockParam.builder().id("functions.get_time:0")
                                .name("get_time").input(JsonValue.from(Map.of())).build())))
                .addUserMessageOfContentBlockParams(List.of(
                        ContentBlockParam.ofToolResult(ToolResultBlockParam.builder()
                                .toolUseId("functions.get_time:0").content("12:00 noon").build())))
                .addTool(tool("get_time")).addTool(tool("get_date"))
                .toolChoice(ToolChoiceTool.builder().name("get_date").build())).build();
        Message m = client.messages().create(params);
        String prompt = tokenizer.decode(server.lastSubmitted().promptIds());
        assertTrue(prompt.contains(thought), "the earlier turn's thinking reaches the template: " + prompt);
        assertTrue(prompt.contains("12:00 noon"), prompt);
        ToolUseBlock call = m.content().stream().filter(ContentBlock::isToolUse).findFirst().orElseThrow().asToolUse();
        assertEquals("functions.get_date:1", call.id(), "Kimi's call ids count on over the conversation");
    }

    @Test
    void countTokensEqualsThePrefilledPrompt() {
        MessageCreateParams params = instant(ask("Count me: how many tokens is this, with a tool and a system?", 3))
                .system("You are a careful assistant for counting things.").addTool(tool("get_time")).build();
        Message m = client.messages().create(params);
        int prefilled = server.lastSubmitted().promptIds().length;
        long counted = client.messages().countTokens(MessageCountTokensParams.builder()
                .model(RealEngineServer.MODEL).system("You are a careful assistant for counting things.")
                .addUserMessage("Count me: how many tokens is this, with a tool and a system?")
                .addTool(tool("get_time")).thinking(ThinkingConfigDisabled.builder().build()).build()).inputTokens();
        assertEquals(prefilled, counted);
        assertEquals(counted, m.usage().inputTokens() + m.usage().cacheReadInputTokens().orElse(0L)
                + m.usage().cacheCreationInputTokens().orElse(0L));
    }

    @Test
    void anImageBlockIsSeenAndCountedAndUrlsObeyTheFetchPolicy() throws Exception {
        java.awt.image.BufferedImage img = new java.awt.image.BufferedImage(64, 48,
                java.awt.image.BufferedImage.TYPE_INT_RGB);
        java.io.ByteArrayOutputStream png = new java.io.ByteArrayOutputStream();
        javax.imageio.ImageIO.write(img, "png", png);
        String data = java.util.Base64.getEncoder().encodeToString(png.toByteArray());
        String messages = "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"source\":"
                + "{\"type\":\"base64\",\"media_type\":\"image/png\",\"data\":\"" + data + "\"}},"
                + "{\"type\":\"text\",\"text\":\"What is this?\"}]}]";
        HttpResponse<String> r = server.post("/v1/messages", "{\"model\":\"demo\",\"max_tokens\":2,"
                + "\"thinking\":{\"type\":\"disabled\"}," + messages + "}");
        assertEquals(200, r.statusCode(), r.body());
        int[] prompt = server.lastSubmitted().promptIds();
        int pad = tokenizer.requireSpecialId("<|media_pad|>");
        assertTrue(java.util.Arrays.stream(prompt).filter(t -> t == pad).count() > 0, "the image reached the prompt");
        HttpResponse<String> count = server.post("/v1/messages/count_tokens", "{\"model\":\"demo\","
                + "\"thinking\":{\"type\":\"disabled\"}," + messages + "}");
        assertEquals(200, count.statusCode(), count.body());
        assertEquals(prompt.length, JSON.readTree(count.body()).path("input_tokens").asInt());

        HttpResponse<String> url = server.post("/v1/messages", "{\"model\":\"demo\",\"max_tokens\":2,\"messages\":"
                + "[{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"source\":{\"type\":\"url\","
                + "\"url\":\"http://127.0.0.1:9/cat.png\"}}]}]}");
        assertEquals(400, url.statusCode(), url.body());
        assertEquals("invalid_request_error", JSON.readTree(url.body()).path("error").path("type").asText());
    }

    @Test
    void documentBlocksReachThePrompt() throws Exception {
        java.io.ByteArrayOutputStream pdf = new java.io.ByteArrayOutputStream();
        try (org.apache.pdfbox.pdmodel.PDDocument doc = new org.apache.pdfbox.pdmodel.PDDocument()) {
            doc.addPage(new org.apache.pdfbox.pdmodel.PDPage(new org.apache.pdfbox.pdmodel.common.PDRectangle(200, 100)));
            doc.save(pdf);
        }
        String data = java.util.Base64.getEncoder().encodeToString(pdf.toByteArray());
        HttpResponse<String> r = server.post("/v1/messages", "{\"model\":\"demo\",\"max_tokens\":2,"
                + "\"thinking\":{\"type\":\"disabled\"},\"messages\":[{\"role\":\"user\",\"content\":["
                + "{\"type\":\"document\",\"source\":{\"type\":\"base64\",\"media_type\":\"application/pdf\","
                + "\"data\":\"" + data + "\"}},{\"type\":\"document\",\"title\":\"t\",\"source\":{\"type\":"
                + "\"text\",\"media_type\":\"text/plain\",\"data\":\"Falcons nest on cliffs.\"}},"
                + "{\"type\":\"text\",\"text\":\"Summarise.\"}]}]}");
        assertEquals(200, r.statusCode(), r.body());
        int[] prompt = server.lastSubmitted().promptIds();
        int pad = tokenizer.requireSpecialId("<|media_pad|>");
        assertTrue(java.util.Arrays.stream(prompt).filter(t -> t == pad).count() > 0, "the PDF page reached the prompt");
        assertTrue(tokenizer.decode(prompt).contains("Falcons nest on cliffs.Summarise."), tokenizer.decode(prompt));
    }

    @Test
    void stopSequencesCutWhereTheTextHadThem() {
        MessageCreateParams params = instant(ask("Write a line about hawks and their hunting.", 16)).putAdditionalBodyProperty("temperature", JsonValue.from(0.0))
                .build();
        String full = text(client.messages().create(params));
        String stop = full.substring(full.length() / 2, full.length() / 2 + 2);
        MessageCreateParams stopped = params.toBuilder().stopSequences(List.of(stop)).build();
        Message cut = client.messages().create(stopped);
        assertEquals(full.substring(0, full.indexOf(stop)), text(cut), "stop '" + stop + "' in '" + full + "'");
        assertEquals(StopReason.STOP_SEQUENCE, cut.stopReason().orElseThrow());
        assertEquals(stop, cut.stopSequence().orElseThrow());
        Message cutStreamed = streamed(stopped);
        assertEquals(text(cut), text(cutStreamed));
        assertEquals(stop, cutStreamed.stopSequence().orElseThrow());
    }

    @Test
    void maxTokensEndsWithStopReasonMaxTokensAndCountsInTheMetrics() throws Exception {
        server.awaitIdle();
        double before = lengthFinishes();
        Message m = client.messages().create(instant(ask("Go on and on.", 3)).build());
        assertEquals(StopReason.MAX_TOKENS, m.stopReason().orElseThrow(), m.toString());
        assertEquals(3, m.usage().outputTokens());
        assertTrue(m.stopSequence().isEmpty());
        server.awaitIdle();
        RealEngineServer.await(() -> {
            try {
                return lengthFinishes() - before == 1.0;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }, "the request in vllm:request_success_total{finished_reason=\"length\"}");
    }

    private static double lengthFinishes() throws Exception {
        for (String line : server.get("/metrics").body().split("\n")) {
            if (line.startsWith("vllm:request_success_total{") && line.contains("finished_reason=\"length\"")) {
                return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return 0;
    }

    @Test
    void rawStreamHasAnthropicsEventOrder() throws Exception {
        String body = "{\"model\":\"demo\",\"max_tokens\":6,\"stream\":true,\"temperature\":0,"
                + "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":3},"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"Hi there\"}]}";
        HttpResponse<String> r = server.post("/v1/messages", body);
        assertEquals(200, r.statusCode(), r.body());
        List<String> events = new ArrayList<>();
        for (String frame : r.body().split("\n\n")) {
            String[] lines = frame.split("\n");
            assertTrue(lines[0].startsWith("event: "), frame);
            assertTrue(lines[1].startsWith("data: "), frame);
            String name = lines[0].substring(7);
            JsonNode data = JSON.readTree(lines[1].substring(6));
            assertEquals(name, data.path("type").asText(), "the event name is the data's type");
            events.add(name.equals("content_block_delta") ? name + ":" + data.path("delta").path("type").asText()
                    : name);
        }
        assertEquals("message_start", events.getFirst());
        assertEquals(List.of("message_delta", "message_stop"), events.subList(events.size() - 2, events.size()));
        int firstStop = events.indexOf("content_block_stop");
        assertEquals("content_block_start", events.get(1));
        assertEquals("content_block_delta:signature_delta", events.get(firstStop - 1), "thinking ends signed");
        assertFalse(r.body().contains("[DONE]"));
    }

    @Test
    void aThinkingBlockWithoutSignatureInHistoryIsAccepted() throws Exception {
        String body = "{\"model\":\"demo\",\"max_tokens\":2,\"thinking\":{\"type\":\"disabled\"},\"messages\":["
                + "{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":["
                + "{\"type\":\"thinking\",\"thinking\":\"greet back\"},{\"type\":\"redacted_thinking\",\"data\":\"x\"},"
                + "{\"type\":\"text\",\"text\":\"Hello!\"}]},{\"role\":\"user\",\"content\":\"bye\"}]}";
        HttpResponse<String> r = server.post("/v1/messages", body);
        assertEquals(200, r.statusCode(), r.body());
        JsonNode m = JSON.readTree(r.body());
        assertEquals("message", m.path("type").asText());
        assertEquals("assistant", m.path("role").asText());
        assertTrue(m.has("stop_sequence") && m.get("stop_sequence").isNull(), "stop_sequence is written as null");
        assertEquals("max_tokens", m.path("stop_reason").asText());
        for (String k : new String[] {"input_tokens", "output_tokens", "cache_read_input_tokens",
                "cache_creation_input_tokens"}) {
            assertTrue(m.path("usage").path(k).isInt(), k + " in " + m);
        }
    }

    @Test
    void aDisconnectMidStreamFreesTheRequest() throws Exception {
        server.awaitIdle();
        byte[] bytes = ("{\"model\":\"demo\",\"max_tokens\":1500,\"stream\":true,\"thinking\":{\"type\":\"disabled\"},"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"Write a very long story.\"}]}")
                .getBytes(StandardCharsets.UTF_8);
        try (Socket s = new Socket("127.0.0.1", server.server.port())) {
            OutputStream out = s.getOutputStream();
            out.write(("POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + bytes.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(bytes);
            out.flush();
            InputStream in = s.getInputStream();
            byte[] buf = new byte[4096];
            int n = in.read(buf);
            assertTrue(new String(buf, 0, n, StandardCharsets.UTF_8).startsWith("HTTP/1.1 200"));
            RealEngineServer.await(() -> server.engine.stats().running() == 1, "the stream to run");
        }
        server.awaitIdle(); // running 0, nothing waiting, no KV block referenced
        assertEquals(0, server.engine.stats().running());
    }
}
