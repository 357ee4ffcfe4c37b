package io.peregrine.server.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.helpers.ChatCompletionAccumulator;
import com.openai.models.FunctionDefinition;
import com.openai.models.FunctionParameters;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionFunctionTool;
import com.openai.models.chat.completions.ChatCompletionMessageFunctionToolCall;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import io.peregrine.engine.runtime.FinishReason;
import io.peregrine.engine.runtime.GenerationRequest;
import io.peregrine.server.fakes.FakeEngine.Script;
import io.peregrine.server.fakes.TestServer;
import io.peregrine.server.prompt.ToolChoice;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The official OpenAI Java SDK against the real server (fake engine, template and parser) over loopback. */
class OpenAiSdkChatTest {
    private static TestServer server;
    private static OpenAIClient client;

    @BeforeAll
    static void start() throws Exception {
        server = new TestServer();
        client = OpenAIOkHttpClient.builder().baseUrl(server.baseUrl() + "/v1").apiKey("unused").maxRetries(0).build();
    }

    @AfterAll
    static void stop() {
        client.close();
        server.close();
    }

    private static ChatCompletionCreateParams.Builder ask(String text) {
        return ChatCompletionCreateParams.builder().model(TestServer.MODEL).addUserMessage(text);
    }

    private static String extra(Map<String, JsonValue> props, String key) {
        JsonValue v = props.get(key);
        return v == null ? null : (String) v.asString().orElse(null);
    }

    @Test
    void nonStreamingChatWithReasoningAndUsage() {
        server.engine.script(r -> new Script(List.of("Let me ", "think.", "</think>", "Hello", " there"),
                FinishReason.STOP, 4, false));
        ChatCompletion c = client.chat().completions().create(ask("hi").build());
        assertEquals(1, c.choices().size());
        ChatCompletion.Choice choice = c.choices().getFirst();
        assertEquals("Hello there", choice.message().content().orElseThrow());
        assertEquals("Let me think.", extra(choice.message()._additionalProperties(), "reasoning_content"));
        assertEquals("Let me think.", extra(choice.message()._additionalProperties(), "reasoning"));
        assertEquals(ChatCompletion.Choice.FinishReason.STOP, choice.finishReason());
        assertEquals(TestServer.MODEL, c.model());
        assertTrue(c.id().startsWith("chatcmpl-"));
        var usage = c.usage().orElseThrow();
        int prompt = "user: hi\n".length();
        assertEquals(prompt, usage.promptTokens());
        assertEquals(5, usage.completionTokens());
        assertEquals(prompt + 5, usage.totalTokens());
        assertEquals(4, usage.promptTokensDetails().orElseThrow().cachedTokens().orElseThrow());
        assertEquals(3, usage.completionTokensDetails().orElseThrow().reasoningTokens().orElseThrow());
    }

    @Test
    void samplingFieldsReachTheEngine() {
        server.engine.script(r -> Script.of(FinishReason.LENGTH, "a", "b"));
        ChatCompletion c = client.chat().completions().create(ask("hi")
                .temperature(0.3).topP(0.9).seed(7).maxCompletionTokens(2).n(2).stopOfStrings(List.of("END"))
                .presencePenalty(0.1).frequencyPenalty(0.2)
                .putAdditionalBodyProperty("top_k", JsonValue.from(40))
                .putAdditionalBodyProperty("min_p", JsonValue.from(0.05))
                .putAdditionalBodyProperty("repetition_penalty", JsonValue.from(1.1))
                .putAdditionalBodyProperty("chat_template_kwargs", JsonValue.from(Map.of("thinking", false)))
                .build());
        GenerationRequest req = server.engine.submitted.getLast();
        var s = req.sampling();
        assertEquals(0.3, s.temperature());
        assertEquals(0.9, s.topP());
        assertEquals(40, s.topK());
        assertEquals(0.05, s.minP());
        assertEquals(0.1, s.presencePenalty());
        assertEquals(0.2, s.frequencyPenalty());
        assertEquals(1.1, s.repetitionPenalty());
        assertEquals(7L, s.seed());
        assertEquals(2, s.maxTokens());
        assertEquals(List.of("END"), s.stop());
        assertEquals(2, s.n());
        assertEquals(2, c.choices().size());
        for (ChatCompletion.Choice ch : c.choices()) {
            assertEquals("ab", ch.message().content().orElseThrow());
            assertEquals(ChatCompletion.Choice.FinishReason.LENGTH, ch.finishReason());
        }
        assertEquals(4, c.usage().orElseThrow().completionTokens());
    }

    @Test
    void defaultsFollowTheThinkingMode() {
        server.engine.script(r -> Script.of(FinishReason.STOP, "ok"));
        client.chat().completions().create(ask("hi").build());
        assertEquals(1.0, server.engine.submitted.getLast().sampling().temperature());
        assertEquals(0.95, server.engine.submitted.getLast().sampling().topP());
        // With no max_tokens the completion may use the rest of the context (4096 - prompt).
        assertEquals(4096 - "user: hi\n".length(), server.engine.submitted.getLast().sampling().maxTokens());
        client.chat().completions().create(ask("hi")
                .putAdditionalBodyProperty("thinking", JsonValue.from(Map.of("type", "disabled"))).build());
        assertEquals(0.6, server.engine.submitted.getLast().sampling().temperature());
    }

    @Test
    void streamingChatWithUsageChunk() {
        server.engine.script(r -> new Script(List.of("Hmm", "</think>", "Hel", "lo"), FinishReason.STOP, 2, false));
        List<ChatCompletionChunk> chunks = new ArrayList<>();
        try (StreamResponse<ChatCompletionChunk> stream = client.chat().completions().createStreaming(ask("hi")
                .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build())) {
            stream.stream().forEach(chunks::add);
        }
        StringBuilder content = new StringBuilder();
        StringBuilder reasoning = new StringBuilder();
        String finish = null;
        for (ChatCompletionChunk ch : chunks) {
            assertTrue(ch.usage().isEmpty() || ch.choices().isEmpty(), "usage only on the last, choice-less chunk");
            for (ChatCompletionChunk.Choice c : ch.choices()) {
                c.delta().content().ifPresent(content::append);
                String r = extra(c.delta()._additionalProperties(), "reasoning_content");
                if (r != null) {
                    reasoning.append(r);
                }
                if (c.finishReason().isPresent()) {
                    finish = c.finishReason().get().asString();
                }
            }
        }
        assertEquals("assistant", chunks.getFirst().choices().getFirst().delta().role().orElseThrow().asString());
        assertEquals("Hello", content.toString());
        assertEquals("Hmm", reasoning.toString());
        assertEquals("stop", finish);
        ChatCompletionChunk last = chunks.getLast();
        assertTrue(last.choices().isEmpty());
        var usage = last.usage().orElseThrow();
        assertEquals(4, usage.completionTokens());
        assertEquals(2, usage.promptTokensDetails().orElseThrow().cachedTokens().orElseThrow());
        assertEquals(2, usage.completionTokensDetails().orElseThrow().reasoningTokens().orElseThrow());
    }

    private static ChatCompletionFunctionTool weatherTool() {
        return ChatCompletionFunctionTool.builder().function(FunctionDefinition.builder().name("get_weather")
                .description("Weather in a city").parameters(FunctionParameters.builder()
                        .putAdditionalProperty("type", JsonValue.from("object"))
                        .putAdditionalProperty("properties", JsonValue.from(Map.of("city", Map.of("type", "string"))))
                        .build()).build()).build();
    }

    private static final List<String> TWO_CALLS = List.of("Need weather.", "</think>", "<call:get_weather>",
            "{\"city\":", "\"Paris\"}", "</call>", "<call:get_weather>", "{\"city\":\"Oslo\"}", "</call>");

    @Test
    void toolCallsNonStreaming() {
        server.engine.script(r -> new Script(TWO_CALLS, FinishReason.STOP, 0, false));
        ChatCompletion c = client.chat().completions().create(ask("weather in Paris and Oslo?")
                .addTool(weatherTool()).build());
        ChatCompletion.Choice choice = c.choices().getFirst();
        assertEquals(ChatCompletion.Choice.FinishReason.TOOL_CALLS, choice.finishReason());
        assertTrue(choice.message().content().isEmpty(), "content is null for a pure tool call");
        var calls = choice.message().toolCalls().orElseThrow();
        assertEquals(2, calls.size());
        ChatCompletionMessageFunctionToolCall first = calls.get(0).asFunction();
        assertEquals("functions.get_weather:0", first.id());
        assertEquals("get_weather", first.function().name());
        assertEquals("{\"city\":\"Paris\"}", first.function().arguments());
        assertEquals("{\"city\":\"Oslo\"}", calls.get(1).asFunction().function().arguments());
        assertEquals("functions.get_weather:1", calls.get(1).asFunction().id());
        var input = server.prompts.last;
        assertEquals(1, input.tools().size());
        assertEquals(ToolChoice.AUTO, input.toolChoice());
    }

    @Test
    void toolCallsStreamedAccumulateLikeTheSdkExpects() {
        server.engine.script(r -> new Script(TWO_CALLS, FinishReason.STOP, 0, false));
        ChatCompletionAccumulator acc = ChatCompletionAccumulator.create();
        try (StreamResponse<ChatCompletionChunk> stream = client.chat().completions().createStreaming(
                ask("weather?").addTool(weatherTool()).parallelToolCalls(true).build())) {
            stream.stream().forEach(acc::accumulate);
        }
        ChatCompletion c = acc.chatCompletion();
        ChatCompletion.Choice choice = c.choices().getFirst();
        assertEquals(ChatCompletion.Choice.FinishReason.TOOL_CALLS, choice.finishReason());
        var calls = choice.message().toolCalls().orElseThrow();
        assertEquals(2, calls.size());
        assertEquals("{\"city\":\"Paris\"}", calls.get(0).asFunction().function().arguments());
        assertEquals("get_weather", calls.get(1).asFunction().function().name());
        assertEquals("functions.get_weather:1", calls.get(1).asFunction().id());
    }

    @Test
    void toolCallIdsContinueTheConversationCounter() {
        server.engine.script(r -> new Script(List.of("<call:get_weather>", "{}", "</call>"), FinishReason.STOP, 0, false));
        String body = "{\"model\":\"kimi-k2.5\",\"thinking\":{\"type\":\"disabled\"},\"tools\":[{\"type\":\"function\","
                + "\"function\":{\"name\":\"get_weather\"}}],\"messages\":[{\"role\":\"user\",\"content\":\"w?\"},"
                + "{\"role\":\"assistant\",\"content\":null,\"reasoning_content\":\"r\",\"tool_calls\":[{\"id\":"
                + "\"functions.get_weather:0\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
                + "\"arguments\":\"{}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"functions.get_weather:0\","
                + "\"content\":\"sunny\"},{\"role\":\"user\",\"content\":\"again\"}]}";
        try {
            var r = server.post("/v1/chat/completions", body);
            assertEquals(200, r.statusCode(), r.body());
            assertTrue(r.body().contains("\"id\":\"functions.get_weather:1\""), r.body());
            assertEquals("r", server.prompts.last.messages().get(1).reasoningContent());
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void everyThinkingSpellingReachesThePromptBuilder() {
        server.engine.script(r -> Script.of(FinishReason.STOP, "ok"));
        record Case(String field, Object value, boolean expected) {}
        List<Case> cases = List.of(
                new Case("thinking", Map.of("type", "disabled"), false),
                new Case("thinking", Map.of("type", "enabled"), true),
                new Case("chat_template_kwargs", Map.of("thinking", false), false),
                new Case("chat_template_kwargs", Map.of("thinking", "false"), false),
                new Case("chat_template_kwargs", Map.of("enable_thinking", false), false),
                new Case("chat_template_kwargs", Map.of("enable_thinking", "true"), true),
                new Case("chat_template_kwargs", Map.of("enable_thinking", 0), false),
                new Case("reasoning_effort", "none", false),
                new Case("reasoning_effort", "high", true));
        for (Case k : cases) {
            client.chat().completions().create(ask("hi")
                    .putAdditionalBodyProperty(k.field(), JsonValue.from(k.value())).build());
            assertEquals(k.expected(), server.prompts.last.thinking().enabled(), k.toString());
        }
        client.chat().completions().create(ask("hi").build());
        assertTrue(server.prompts.last.thinking().enabled(), "omitted means enabled for K2.5");
        client.chat().completions().create(ask("hi").putAdditionalBodyProperty("thinking",
                JsonValue.from(Map.of("type", "enabled", "keep", "all"))).build());
        assertEquals("all", server.prompts.last.thinking().keep());
    }

    @Test
    void instantModeSendsEverythingAsContent() {
        server.engine.script(r -> Script.of(FinishReason.STOP, "plain ", "answer"));
        ChatCompletion c = client.chat().completions().create(ask("hi")
                .putAdditionalBodyProperty("chat_template_kwargs", JsonValue.from(Map.of("thinking", false))).build());
        var msg = c.choices().getFirst().message();
        assertEquals("plain answer", msg.content().orElseThrow());
        assertFalse(msg._additionalProperties().containsKey("reasoning_content"));
        assertEquals(0, c.usage().orElseThrow().completionTokensDetails().orElseThrow().reasoningTokens().orElseThrow());
    }

    @Test
    void logprobsCarryTokensAndAlternatives() {
        server.engine.script(r -> Script.of(FinishReason.STOP, "</think>", "A", "B"));
        ChatCompletion c = client.chat().completions().create(ask("hi").logprobs(true).topLogprobs(2).build());
        assertEquals(2, server.engine.submitted.getLast().sampling().logprobs());
        var content = c.choices().getFirst().logprobs().orElseThrow().content().orElseThrow();
        assertEquals(3, content.size());
        assertEquals("A", content.get(1).token());
        assertEquals(-0.5, content.get(1).logprob(), 1e-6);
        assertEquals(2, content.get(1).topLogprobs().size());
        assertEquals("B", content.get(1).topLogprobs().get(1).token());
        assertEquals(List.of(65L), content.get(1).bytes().orElseThrow());
    }
}
