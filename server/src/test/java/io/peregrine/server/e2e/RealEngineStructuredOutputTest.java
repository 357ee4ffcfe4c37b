package io.peregrine.server.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.helpers.ChatCompletionAccumulator;
import com.openai.models.FunctionDefinition;
import com.openai.models.FunctionParameters;
import com.openai.models.ResponseFormatJsonObject;
import com.openai.models.ResponseFormatJsonSchema;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionFunctionTool;
import com.openai.models.chat.completions.ChatCompletionMessageFunctionToolCall;
import com.openai.models.chat.completions.ChatCompletionToolChoiceOption;
import io.peregrine.engine.constrain.json.JsonGrammar;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Structured output over HTTP with the official OpenAI Java SDK, on the tiny demo checkpoint: random weights that
 * never write JSON on their own, so whatever parses and validates here is the grammar's doing. Instant mode
 * (random weights never close a think block; the engine tests cover thinking). Every schema keeps its values
 * bounded so the greedy walk ends within max_tokens.
 */
class RealEngineStructuredOutputTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final SchemaRegistry VALIDATOR = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12);
    private static final Map<String, Object> WEATHER = Map.of(
            "type", "object",
            "properties", Map.of(
                    "city", Map.of("type", "string", "minLength", 1, "maxLength", 10),
                    "unit", Map.of("enum", java.util.List.of("celsius", "fahrenheit")),
                    "days", Map.of("type", "integer"),
                    "alerts", Map.of("type", "array", "items", Map.of("type", "boolean"), "maxItems", 3),
                    "note", Map.of("type", java.util.List.of("string", "null"), "maxLength", 8)),
            "required", java.util.List.of("city", "unit"),
            "additionalProperties", false);

    @TempDir
    static Path dir;
    private static RealEngineServer server;
    private static OpenAIClient client;

    @BeforeAll
    static void start() throws Exception {
        server = new RealEngineServer(dir.resolve("tiny"), 4);
        client = OpenAIOkHttpClient.builder().baseUrl(server.baseUrl() + "/v1").apiKey("unused").maxRetries(0).build();
    }

    @AfterAll
    static void stop() {
        client.close();
        server.close();
    }

    private static ChatCompletionCreateParams.Builder ask(String text) {
        return ChatCompletionCreateParams.builder().model(RealEngineServer.MODEL).addUserMessage(text)
                .putAdditionalBodyProperty("chat_template_kwargs", JsonValue.from(Map.of("thinking", false)))
                .maxCompletionTokens(200).temperature(0.0);
    }

    private static boolean valid(Map<String, Object> schema, String text) throws Exception {
        return VALIDATOR.getSchema(JSON.valueToTree(schema)).validate(JSON.readTree(text)).isEmpty();
    }

    private static ResponseFormatJsonSchema weatherFormat() {
        return ResponseFormatJsonSchema.builder().jsonSchema(ResponseFormatJsonSchema.JsonSchema.builder()
                .name("weather").strict(true).schema(ResponseFormatJsonSchema.JsonSchema.Schema.builder()
                        .putAllAdditionalProperties(asJsonValues(WEATHER)).build())
                .build()).build();
    }

    private static Map<String, JsonValue> asJsonValues(Map<String, Object> m) {
        Map<String, JsonValue> out = new java.util.HashMap<>();
        m.forEach((k, v) -> out.put(k, JsonValue.from(v)));
        return out;
    }

    private static ChatCompletion streamed(ChatCompletionCreateParams params) {
        ChatCompletionAccumulator acc = ChatCompletionAccumulator.create();
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(params)) {
            s.stream().forEach(acc::accumulate);
        }
        return acc.chatCompletion();
    }

    @Test
    void jsonSchemaAnswersValidateStreamedAndNot() throws Exception {
        ChatCompletionCreateParams params = ask("What's the weather in Oslo? Answer in JSON.")
                .responseFormat(weatherFormat()).build();
        ChatCompletion whole = client.chat().completions().create(params);
        ChatCompletion.Choice c = whole.choices().getFirst();
        String content = c.message().content().orElseThrow();
        assertEquals(ChatCompletion.Choice.FinishReason.STOP, c.finishReason(), content);
        assertTrue(valid(WEATHER, content), "invalid: " + content);
        ChatCompletion.Choice s = streamed(params).choices().getFirst();
        assertEquals(content, s.message().content().orElseThrow(), "streaming and non-streaming agree");
        assertEquals(ChatCompletion.Choice.FinishReason.STOP, s.finishReason());
    }

    @Test
    void withoutResponseFormatTheSameRequestIsNotJson() {
        String content = client.chat().completions().create(ask("What's the weather in Oslo? Answer in JSON.").build())
                .choices().getFirst().message().content().orElse("");
        assertTrue(JsonGrammar.anyObject().matcher().step(content.getBytes(StandardCharsets.UTF_8)) == null,
                "random weights write JSON on their own, so the other tests would prove nothing: " + content);
    }

    @Test
    void everySampledChoiceValidates() throws Exception {
        ChatCompletion r = client.chat().completions().create(ask("Weather in Lima, JSON please")
                .responseFormat(weatherFormat()).temperature(1.0).seed(3).n(3).build());
        assertEquals(3, r.choices().size());
        for (ChatCompletion.Choice c : r.choices()) {
            String content = c.message().content().orElseThrow();
            if (c.finishReason() == ChatCompletion.Choice.FinishReason.STOP) {
                assertTrue(valid(WEATHER, content), "invalid: " + content);
            } else {
                // cut by max_tokens: still a prefix the grammar allows
                assertNotNull(JsonGrammar.compile(JSON.valueToTree(WEATHER), true).matcher()
                        .step(content.getBytes(StandardCharsets.UTF_8)), content);
            }
        }
    }

    @Test
    void jsonObjectModeGivesAnObject() throws Exception {
        ChatCompletionCreateParams params = ask("Any JSON object, please.").responseFormat(
                ResponseFormatJsonObject.builder().build()).maxCompletionTokens(60).build();
        ChatCompletion.Choice c = client.chat().completions().create(params).choices().getFirst();
        String content = c.message().content().orElseThrow();
        assertTrue(content.startsWith("{"), content);
        if (c.finishReason() == ChatCompletion.Choice.FinishReason.STOP) {
            assertTrue(JSON.readTree(content).isObject(), content);
        } else {
            assertNotNull(JsonGrammar.anyObject().matcher().step(content.getBytes(StandardCharsets.UTF_8)), content);
        }
        assertEquals(content, streamed(params).choices().getFirst().message().content().orElseThrow());
    }

    @Test
    void aStrictToolUnderRequiredGetsArgumentsThatValidate() throws Exception {
        ChatCompletionFunctionTool tool = ChatCompletionFunctionTool.builder().function(FunctionDefinition.builder()
                .name("get_weather").strict(true).parameters(FunctionParameters.builder()
                        .putAllAdditionalProperties(asJsonValues(WEATHER)).build())
                .build()).build();
        ChatCompletionCreateParams params = ask("Weather in Quito?").addTool(tool)
                .toolChoice(ChatCompletionToolChoiceOption.Auto.REQUIRED).parallelToolCalls(false).build();
        ChatCompletion.Choice c = client.chat().completions().create(params).choices().getFirst();
        assertEquals(ChatCompletion.Choice.FinishReason.TOOL_CALLS, c.finishReason(), c.toString());
        ChatCompletionMessageFunctionToolCall call = c.message().toolCalls().orElseThrow().getFirst().asFunction();
        assertEquals("get_weather", call.function().name());
        assertEquals("functions.get_weather:0", call.id());
        assertTrue(valid(WEATHER, call.function().arguments()), "invalid arguments: " + call.function().arguments());
        ChatCompletion.Choice s = streamed(params).choices().getFirst();
        assertEquals(call.function().arguments(),
                s.message().toolCalls().orElseThrow().getFirst().asFunction().function().arguments());
        JsonNode parsed = JSON.readTree(call.function().arguments());
        assertTrue(parsed.has("city") && parsed.has("unit"), parsed.toString());
    }
}
