package io.peregrine.server.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.errors.NotFoundException;
import com.openai.models.Reasoning;
import com.openai.models.ReasoningEffort;
import com.openai.models.responses.EasyInputMessage;
import com.openai.models.responses.FunctionTool;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseFunctionToolCall;
import com.openai.models.responses.ResponseInputItem;
import com.openai.models.responses.ResponseOutputItem;
import com.openai.models.responses.ResponseReasoningItem;
import com.openai.models.responses.ResponseStatus;
import com.openai.models.responses.ResponseStreamEvent;
import com.openai.models.responses.ToolChoiceOptions;
import com.openai.models.responses.inputtokens.InputTokenCountParams;
import io.peregrine.engine.tokenizer.KimiTokenizer;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code /v1/responses} with the official OpenAI Java SDK over loopback, on the real engine, tokenizer, chat
 * template and parser (tiny demo checkpoint, random weights). Every response and stream event is checked with the
 * SDK's own {@code validate()}, so a missing or mistyped field fails here as it would in a client.
 */
class RealEngineResponsesTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern SUCCESS = Pattern.compile(
            "vllm:request_success_total\\{[^}]*finished_reason=\"(\\w+)\"[^}]*} ([0-9.eE+-]+)");

    @TempDir
    static Path dir;
    private static RealEngineServer server;
    private static OpenAIClient client;
    private static KimiTokenizer tokenizer;

    @BeforeAll
    static void start() throws Exception {
        server = new RealEngineServer(dir.resolve("tiny"), 4);
        client = OpenAIOkHttpClient.builder().baseUrl(server.baseUrl() + "/v1").apiKey("unused").maxRetries(0).build();
        tokenizer = KimiTokenizer.fromDirectory(dir.resolve("tiny"));
    }

    @AfterAll
    static void stop() {
        client.close();
        server.close();
    }

    private static ResponseCreateParams.Builder ask(String text) {
        return ResponseCreateParams.builder().model(RealEngineServer.MODEL).input(text);
    }

    private static ResponseCreateParams.Builder instant(ResponseCreateParams.Builder b) {
        return b.reasoning(Reasoning.builder().effort(ReasoningEffort.NONE).build());
    }

    private static String outputText(Response r) {
        StringBuilder sb = new StringBuilder();
        for (ResponseOutputItem item : r.output()) {
            item.message().ifPresent(m -> m.content().forEach(c -> c.outputText().ifPresent(t -> sb.append(t.text()))));
        }
        return sb.toString();
    }

    private static List<ResponseStreamEvent> stream(ResponseCreateParams params) {
        List<ResponseStreamEvent> events = new ArrayList<>();
        try (StreamResponse<ResponseStreamEvent> s = client.responses().createStreaming(params)) {
            s.stream().forEach(e -> {
                e.validate();
                events.add(e);
            });
        }
        return events;
    }

    @Test
    void streamingGivesWhatNonStreamingGivesForASeededRequest() throws Exception {
        ResponseCreateParams params = instant(ask("Tell me about peregrine falcons and where they nest."))
                .temperature(0.9).maxOutputTokens(12).putAdditionalBodyProperty("seed", JsonValue.from(1234)).build();
        Response whole = client.responses().create(params);
        whole.validate();
        int promptLength = server.lastSubmitted().promptLength();
        assertTrue(whole.id().startsWith("resp_"), whole.id());
        var usage = whole.usage().orElseThrow();
        boolean cut = usage.outputTokens() == 12;
        assertEquals(cut ? ResponseStatus.INCOMPLETE : ResponseStatus.COMPLETED, whole.status().orElseThrow());
        assertEquals(promptLength, usage.inputTokens(), "usage.input_tokens is the prompt the engine got");
        assertTrue(usage.outputTokens() >= 1 && usage.outputTokens() <= 12);
        assertEquals(usage.inputTokens() + usage.outputTokens(), usage.totalTokens());
        assertEquals(0, usage.outputTokensDetails().reasoningTokens());
        String text = outputText(whole);

        List<ResponseStreamEvent> events = stream(params);
        assertTrue(events.getFirst().isCreated(), events.getFirst().toString());
        assertTrue(events.get(1).isInProgress());
        assertTrue(cut ? events.getLast().isIncomplete() : events.getLast().isCompleted(), events.getLast().toString());
        StringBuilder deltas = new StringBuilder();
        for (ResponseStreamEvent e : events) {
            e.outputTextDelta().ifPresent(d -> deltas.append(d.delta()));
        }
        assertEquals(text, deltas.toString(), "the deltas add up to the non-streamed text");
        Response streamed = cut ? events.getLast().asIncomplete().response() : events.getLast().asCompleted().response();
        assertEquals(whole.output().size(), streamed.output().size());
        assertEquals(text, outputText(streamed));
        assertEquals(usage.outputTokens(), streamed.usage().orElseThrow().outputTokens());
        assertTrue(streamed.usage().orElseThrow().inputTokensDetails().cachedTokens() > 0,
                "the second request's prompt came from the prefix cache");
        server.awaitIdle();
    }

    @Test
    void theStreamIsNamedNumberedAndNested() throws Exception {
        HttpResponse<String> r = server.post("/v1/responses", "{\"model\":\"demo\",\"input\":\"Hi there\","
                + "\"stream\":true,\"max_output_tokens\":6,\"temperature\":0,\"ignore_eos\":true,\"reasoning\":{\"effort\":\"none\"}}");
        assertEquals(200, r.statusCode(), r.body());
        assertFalse(r.body().contains("[DONE]"), "the Responses API ends without [DONE]");
        String[] blocks = r.body().split("\n\n");
        List<String> types = new ArrayList<>();
        for (int i = 0; i < blocks.length; i++) {
            String[] lines = blocks[i].split("\n");
            assertTrue(lines[0].startsWith("event: ") && lines[1].startsWith("data: "), blocks[i]);
            JsonNode data = JSON.readTree(lines[1].substring(6));
            assertEquals(lines[0].substring(7), data.path("type").asText(), "the event name is the data's type");
            assertEquals(i, data.path("sequence_number").asInt(), blocks[i]);
            types.add(data.path("type").asText());
        }
        assertEquals(List.of("response.created", "response.in_progress", "response.output_item.added",
                "response.content_part.added"), types.subList(0, 4));
        assertEquals(List.of("response.output_text.done", "response.content_part.done", "response.output_item.done",
                "response.incomplete"), types.subList(types.size() - 4, types.size()), types.toString());
        assertTrue(types.subList(4, types.size() - 4).stream().allMatch("response.output_text.delta"::equals), types.toString());
        server.awaitIdle();
    }

    @Test
    void reasoningEffortSwitchesThinking() throws Exception {
        int think = tokenizer.requireSpecialId("<think>");
        int endThink = tokenizer.requireSpecialId("</think>");
        Response off = client.responses().create(instant(ask("Why is the sky blue?")).maxOutputTokens(6).build());
        int[] offPrompt = server.lastSubmitted().promptIds();
        assertEquals(endThink, offPrompt[offPrompt.length - 1], "effort none closes an empty think block");
        assertEquals(0, off.usage().orElseThrow().outputTokensDetails().reasoningTokens());
        assertTrue(off.output().stream().noneMatch(ResponseOutputItem::isReasoning), off.toString());

        for (ReasoningEffort effort : List.of(ReasoningEffort.LOW, ReasoningEffort.HIGH)) {
            Response on = client.responses().create(ask("Why is the sky blue?").maxOutputTokens(6).temperature(0.0)
                    .reasoning(Reasoning.builder().effort(effort).build()).build());
            on.validate();
            int[] onPrompt = server.lastSubmitted().promptIds();
            assertEquals(think, onPrompt[onPrompt.length - 1], effort + " opens a think block");
            // random weights rarely close the block: the output then is one reasoning item
            ResponseReasoningItem reasoning = on.output().getFirst().reasoning().orElseThrow();
            String text = reasoning.content().orElseThrow().getFirst().text();
            assertFalse(text.isEmpty());
            assertTrue(reasoning.summary().isEmpty());
            assertTrue(on.usage().orElseThrow().outputTokensDetails().reasoningTokens() > 0);
        }
        Response omitted = client.responses().create(ask("Why is the sky blue?").maxOutputTokens(2).temperature(0.0)
                .putAdditionalBodyProperty("ignore_eos", JsonValue.from(true)).build());
        int[] p = server.lastSubmitted().promptIds();
        assertEquals(think, p[p.length - 1], "no reasoning setting: thinking on, K2.5's default");
        assertEquals(ResponseStatus.INCOMPLETE, omitted.status().orElseThrow());
        server.awaitIdle();
    }

    private static FunctionTool tool(String name) {
        return FunctionTool.builder().name(name).strict(false).parameters(FunctionTool.Parameters.builder()
                .putAdditionalProperty("type", JsonValue.from("object"))
                .putAdditionalProperty("properties", JsonValue.from(Map.of())).build()).build();
    }

    @Test
    void requiredToolChoiceGivesAFunctionCallAndTheFollowUpIsAccepted() throws Exception {
        ResponseCreateParams params = instant(ask("What time is it?")).addTool(tool("get_time")).addTool(tool("get_date"))
                .toolChoice(ToolChoiceOptions.REQUIRED).parallelToolCalls(false).maxOutputTokens(40)
                .temperature(0.0).build();
        Response r = client.responses().create(params);
        r.validate();
        assertEquals(ResponseStatus.COMPLETED, r.status().orElseThrow(), r.toString());
        List<ResponseFunctionToolCall> calls = r.output().stream().flatMap(i -> i.functionCall().stream()).toList();
        assertEquals(1, calls.size(), r.toString());
        ResponseFunctionToolCall call = calls.getFirst();
        assertTrue(List.of("get_time", "get_date").contains(call.name()), call.toString());
        assertEquals("functions." + call.name() + ":0", call.callId(), "Kimi's canonical id");
        assertTrue(JSON.readTree(call.arguments()).isObject(), call.arguments());

        List<ResponseStreamEvent> events = stream(params);
        String streamedArgs = events.stream().flatMap(e -> e.functionCallArgumentsDone().stream())
                .map(d -> d.arguments()).findFirst().orElseThrow();
        assertEquals(call.arguments(), streamedArgs);

        // the next turn: the call, its result and the reasoning that led to it go back as input items
        List<ResponseInputItem> input = List.of(
                ResponseInputItem.ofEasyInputMessage(EasyInputMessage.builder().role(EasyInputMessage.Role.USER)
                        .content("What time is it?").build()),
                ResponseInputItem.ofReasoning(ResponseReasoningItem.builder().id("rs_1").summary(List.of())
                        .content(List.of(ResponseReasoningItem.Content.builder().text("I should ask the clock.").build()))
                        .build()),
                ResponseInputItem.ofFunctionCall(call),
                ResponseInputItem.ofFunctionCallOutput(ResponseInputItem.FunctionCallOutput.builder()
                        .callId(call.callId()).output("It is 12:34.").build()));
        // thinking on: K2.5 keeps the reasoning of the turns after the last user message (interleaved thinking)
        Response next = client.responses().create(ResponseCreateParams.builder().model(RealEngineServer.MODEL)
                .inputOfResponse(input).addTool(tool("get_time")).addTool(tool("get_date")).maxOutputTokens(4).build());
        next.validate();
        String prompt = tokenizer.decode(server.lastSubmitted().promptIds());
        assertTrue(prompt.contains("It is 12:34."), prompt);
        assertTrue(prompt.contains("I should ask the clock."), "the reasoning item is that turn's reasoning: " + prompt);
        assertTrue(prompt.contains(call.callId()), prompt);
        server.awaitIdle();
    }

    @Test
    void maxOutputTokensEndsIncomplete() throws Exception {
        ResponseCreateParams params = instant(ask("Write a long poem.")).maxOutputTokens(3)
                .putAdditionalBodyProperty("ignore_eos", JsonValue.from(true)).build();
        Response r = client.responses().create(params);
        assertEquals(ResponseStatus.INCOMPLETE, r.status().orElseThrow(), r.toString());
        assertEquals(Response.IncompleteDetails.Reason.MAX_OUTPUT_TOKENS,
                r.incompleteDetails().orElseThrow().reason().orElseThrow());
        assertEquals(3, r.usage().orElseThrow().outputTokens());
        List<ResponseStreamEvent> events = stream(params);
        assertTrue(events.getLast().isIncomplete(), events.getLast().toString());
        server.awaitIdle();
    }

    @Test
    void inputTokensCountsThePromptExactly() throws Exception {
        var count = client.responses().inputTokens().count(InputTokenCountParams.builder()
                .model(RealEngineServer.MODEL).input("How fast does a peregrine dive?").instructions("Be brief.").build());
        client.responses().create(ask("How fast does a peregrine dive?").instructions("Be brief.").maxOutputTokens(1)
                .build());
        assertEquals(server.lastSubmitted().promptLength(), count.inputTokens());
        server.awaitIdle();
    }

    @Test
    void storedResponsesAreRetrievedContinuedAndDeleted() throws Exception {
        Response first = client.responses().create(instant(ask("My falcon is called Zephyrine.")).maxOutputTokens(5)
                .build());
        Response got = client.responses().retrieve(first.id());
        got.validate();
        assertEquals(first.output(), got.output());
        assertEquals(first.usage(), got.usage());

        Response second = client.responses().create(instant(ask("What is my falcon called?"))
                .previousResponseId(first.id()).maxOutputTokens(3).build());
        assertEquals(first.id(), second.previousResponseId().orElseThrow());
        String prompt = tokenizer.decode(server.lastSubmitted().promptIds());
        assertTrue(prompt.contains("My falcon is called Zephyrine.") && prompt.contains("What is my falcon called?"),
                prompt);
        assertTrue(prompt.indexOf(outputText(first)) < prompt.indexOf("What is my falcon called?"),
                "the stored answer comes between the turns: " + prompt);

        client.responses().delete(first.id());
        assertThrows(NotFoundException.class, () -> client.responses().retrieve(first.id()));
        BadRequestException e = assertThrows(BadRequestException.class, () -> client.responses().create(
                instant(ask("Again?")).previousResponseId(first.id()).maxOutputTokens(1).build()));
        assertEquals("previous_response_id", e.param().orElseThrow());
        assertEquals("previous_response_not_found", e.code().orElseThrow());

        Response unstored = client.responses().create(instant(ask("Forget this.")).store(false).maxOutputTokens(1)
                .build());
        assertEquals(JsonValue.from(false), unstored._additionalProperties().get("store"));
        assertThrows(NotFoundException.class, () -> client.responses().retrieve(unstored.id()));
        server.awaitIdle();
    }

    @Test
    void textFormatJsonSchemaGivesJsonThatValidates() throws Exception {
        // random weights never write JSON on their own: what parses and validates here is the grammar's doing
        Map<String, Object> schema = Map.of("type", "object", "properties", Map.of("city", Map.of("type", "string",
                "maxLength", 12), "days", Map.of("type", "integer")), "required", List.of("city", "days"),
                "additionalProperties", false);
        Response r = client.responses().create(instant(ask("Forecast, as JSON.")).maxOutputTokens(80).temperature(0.0)
                .putAdditionalBodyProperty("text", JsonValue.from(Map.of("format", Map.of("type", "json_schema",
                        "name", "forecast", "schema", schema)))).build());
        assertEquals(ResponseStatus.COMPLETED, r.status().orElseThrow(), "closed within the budget: " + outputText(r));
        JsonNode value = JSON.readTree(outputText(r));
        java.util.Set<String> keys = new java.util.HashSet<>();
        value.fieldNames().forEachRemaining(keys::add);
        assertEquals(java.util.Set.of("city", "days"), keys);
        assertTrue(value.get("city").isTextual() && value.get("city").textValue().codePointCount(0,
                value.get("city").textValue().length()) <= 12, value.toString());
        assertTrue(value.get("days").isIntegralNumber(), value.toString());
        server.awaitIdle();
    }

    @Test
    void badInputIsA400TheSdkParses() throws Exception {
        record Bad(String param, ResponseCreateParams params) {}
        List<Bad> bad = List.of(
                new Bad("tools[0].type", ask("hi").addFileSearchTool(List.of("vs_1")).build()),
                new Bad("text.format.schema", ask("hi").putAdditionalBodyProperty("text", JsonValue.from(Map.of("format",
                        Map.of("type", "json_schema", "name", "x", "schema", Map.of("type", "string",
                                "pattern", "^a+$"))))).build()),
                new Bad("tools[0].parameters", ask("hi").putAdditionalBodyProperty("tools", JsonValue.from(List.of(
                        Map.of("type", "function", "name", "f", "strict", true, "parameters", Map.of("type", "object",
                                "properties", Map.of("q", Map.of("type", "string", "format", "email")))))))
                        .build()),
                new Bad("tools[1].name", ask("hi").putAdditionalBodyProperty("tools", JsonValue.from(List.of(
                        Map.of("type", "function", "name", "f"), Map.of("type", "function", "name", "f")))).build()),
                new Bad("tool_choice", ask("hi").putAdditionalBodyProperty("tool_choice", JsonValue.from("sometimes"))
                        .build()),
                new Bad("text.format", ask("hi").putAdditionalBodyProperty("text",
                        JsonValue.from(Map.of("format", "json"))).build()),
                new Bad("text.format.type", ask("hi").putAdditionalBodyProperty("text",
                        JsonValue.from(Map.of("format", Map.of("type", "yaml")))).build()),
                new Bad("input[0].call_id", ResponseCreateParams.builder().model(RealEngineServer.MODEL)
                        .inputOfResponse(List.of(ResponseInputItem.ofFunctionCallOutput(
                                ResponseInputItem.FunctionCallOutput.builder().callId("functions.nope:0")
                                        .output("x").build()))).build()),
                new Bad("reasoning.effort", ask("hi").reasoning(Reasoning.builder()
                        .effort(ReasoningEffort.of("extreme")).build()).build()),
                new Bad("max_output_tokens", ask("hi").maxOutputTokens(0).build()),
                new Bad("background", ask("hi").background(true).build()),
                new Bad("temperature", ask("hi").temperature(-1.0).build()),
                new Bad("model", ResponseCreateParams.builder().model("nope").input("hi").build()));
        for (Bad b : bad) {
            var e = assertThrows(com.openai.errors.OpenAIServiceException.class, () -> client.responses().create(b.params()),
                    b.param());
            assertTrue(e.statusCode() == 400 || (b.param().equals("model") && e.statusCode() == 404), e.toString());
            assertEquals(b.param(), e.param().orElseThrow(), e.getMessage());
            assertFalse(e.getMessage().contains("response_format") || e.getMessage().contains("function.")
                            || e.getMessage().contains("\"function\": {") || e.getMessage().contains("reasoning_effort"),
                    "chat's field names in a Responses error: " + e.getMessage());
            assertFalse(e.getMessage().isBlank());
        }
        server.awaitIdle();
    }

    @Test
    void aDisconnectMidStreamFreesTheRequestAndTheMetricsCountResponses() throws Exception {
        server.awaitIdle();
        Map<String, Double> before = successes();
        try (StreamResponse<ResponseStreamEvent> s = client.responses().createStreaming(ask("Think at length.")
                .maxOutputTokens(1500).temperature(0.0).putAdditionalBodyProperty("ignore_eos", JsonValue.from(true)).build())) {
            Iterator<ResponseStreamEvent> it = s.stream().iterator();
            int deltas = 0;
            while (deltas < 3 && it.hasNext()) {
                ResponseStreamEvent e = it.next();
                if (e.isReasoningTextDelta() || e.isOutputTextDelta()) {
                    deltas++;
                }
            }
            assertEquals(3, deltas);
            assertEquals(1, server.engine.stats().running(), "still generating when the client leaves");
        }
        server.awaitIdle();
        RealEngineServer.await(() -> successes().getOrDefault("abort", 0.0) - before.getOrDefault("abort", 0.0) == 1.0,
                "the aborted response in vllm:request_success_total");
        client.responses().create(instant(ask("Short.")).maxOutputTokens(2).build());
        RealEngineServer.await(() -> successes().getOrDefault("length", 0.0) - before.getOrDefault("length", 0.0) == 1.0,
                "the finished response in vllm:request_success_total");
    }

    /** vllm:request_success_total by finished_reason, from a scrape. */
    private static Map<String, Double> successes() {
        try {
            HttpResponse<String> r = server.get("/metrics");
            Map<String, Double> out = new java.util.HashMap<>();
            Matcher m = SUCCESS.matcher(r.body());
            while (m.find()) {
                out.merge(m.group(1), Double.parseDouble(m.group(2)), Double::sum);
            }
            return out;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
