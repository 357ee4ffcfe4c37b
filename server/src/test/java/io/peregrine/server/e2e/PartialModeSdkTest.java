package io.peregrine.server.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionAssistantMessageParam;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import io.peregrine.engine.chat.ChatMessage;
import io.peregrine.engine.chat.ChatTemplate;
import io.peregrine.engine.chat.PromptEncoder;
import io.peregrine.engine.chat.RenderOptions;
import io.peregrine.engine.tokenizer.KimiTokenizer;
import io.peregrine.engine.tokenizer.SpecialTextPolicy;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Partial mode (assistant prefill) over loopback with the official OpenAI Java SDK against the real engine and the
 * tiny demo checkpoint: the prompt is the template's render without the closing marker, the reply continues it
 * (the prefix is prompt, not output), streaming equals non-streaming, and the parser starts in the state the
 * prompt ends in. Also Moonshot's token estimate and the accepted routing fields.
 */
class PartialModeSdkTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String PREFIX = "The peregrine falcon";

    @TempDir
    static Path dir;
    private static RealEngineServer server;
    private static OpenAIClient client;
    private static KimiTokenizer tokenizer;
    private static PromptEncoder encoder;

    @BeforeAll
    static void start() throws Exception {
        server = new RealEngineServer(dir.resolve("tiny"), 4);
        client = OpenAIOkHttpClient.builder().baseUrl(server.baseUrl() + "/v1").apiKey("unused").maxRetries(0).build();
        tokenizer = KimiTokenizer.fromDirectory(dir.resolve("tiny"));
        encoder = new PromptEncoder(ChatTemplate.fromCheckpoint(dir.resolve("tiny")), tokenizer);
    }

    @AfterAll
    static void stop() {
        client.close();
        server.close();
    }

    private static ChatCompletionCreateParams.Builder partial(ChatCompletionAssistantMessageParam.Builder prefix) {
        return ChatCompletionCreateParams.builder().model(RealEngineServer.MODEL).addUserMessage("Name a fast bird.")
                .addMessage(prefix.putAdditionalProperty("partial", JsonValue.from(true)).build())
                .temperature(0.0).maxCompletionTokens(8).putAdditionalBodyProperty("ignore_eos", JsonValue.from(true));
    }

    /** The reference: the whole conversation rendered without a generation prompt, its final {@code <|im_end|>} cut. */
    private static int[] renderWithoutClosingMarker(ChatMessage answer) {
        int[] full = encoder.encode(List.of(ChatMessage.user("Name a fast bird."), answer), List.of(),
                new RenderOptions(false, true, false), SpecialTextPolicy.AS_TEXT).ids();
        assertEquals(tokenizer.requireSpecialId("<|im_end|>"), full[full.length - 1]);
        return Arrays.copyOf(full, full.length - 1);
    }

    private static long reasoningTokens(ChatCompletion r) {
        return r.usage().orElseThrow().completionTokensDetails().orElseThrow().reasoningTokens().orElseThrow();
    }

    @Test
    void aPartialAnswerIsContinuedAsContentAndNotRepeated() throws Exception {
        ChatCompletionCreateParams params = partial(ChatCompletionAssistantMessageParam.builder().content(PREFIX)
                .name("Kimi")).build();
        ChatCompletion whole = client.chat().completions().create(params);
        int[] prompt = server.lastSubmitted().promptIds();
        ChatMessage named = ChatMessage.assistant(PREFIX).withName("Kimi");
        assertArrayEquals(renderWithoutClosingMarker(named), prompt);
        assertTrue(tokenizer.decode(prompt).endsWith("<|im_assistant|>Kimi<|im_middle|><think></think>" + PREFIX));
        var usage = whole.usage().orElseThrow();
        assertEquals(prompt.length, usage.promptTokens(), "the prefix is prompt");
        assertEquals(8, usage.completionTokens());
        // thinking is on, but the prefix is an answer: the continuation is content from its first token
        assertEquals(0, reasoningTokens(whole));
        ChatCompletion.Choice c = whole.choices().getFirst();
        assertNull(c.message()._additionalProperties().get("reasoning_content"));
        String content = c.message().content().orElseThrow();
        assertFalse(content.isEmpty());
        assertFalse(content.startsWith(PREFIX), "the response holds only the continuation: " + content);

        List<ChatCompletionChunk> chunks = new ArrayList<>();
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(params.toBuilder()
                .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build())) {
            s.stream().forEach(chunks::add);
        }
        assertArrayEquals(prompt, server.lastSubmitted().promptIds());
        StringBuilder streamed = new StringBuilder();
        chunks.forEach(ch -> ch.choices().forEach(cc -> cc.delta().content().ifPresent(streamed::append)));
        assertEquals(content, streamed.toString());
        var streamedUsage = chunks.getLast().usage().orElseThrow();
        assertEquals(usage.promptTokens(), streamedUsage.promptTokens());
        assertEquals(usage.completionTokens(), streamedUsage.completionTokens());

        // Moonshot's estimate counts the same prompt, prefix included
        String body = JSON.writeValueAsString(Map.of("model", RealEngineServer.MODEL, "messages", List.of(
                Map.of("role", "user", "content", "Name a fast bird."),
                Map.of("role", "assistant", "content", PREFIX, "name", "Kimi", "partial", true))));
        var r = server.post("/v1/tokenizers/estimate-token-count", body);
        assertEquals(200, r.statusCode(), r.body());
        assertEquals(prompt.length, JSON.readTree(r.body()).path("data").path("total_tokens").asInt());
        // and vLLM's /tokenize gives its ids
        var t = server.post("/tokenize", body);
        assertEquals(200, t.statusCode(), t.body());
        assertArrayEquals(prompt, JSON.convertValue(JSON.readTree(t.body()).path("tokens"), int[].class));
        server.awaitIdle();
    }

    @Test
    void aReasoningPrefixContinuesInsideTheThinkBlock() throws Exception {
        ChatCompletionCreateParams params = partial(ChatCompletionAssistantMessageParam.builder().content("")
                .putAdditionalProperty("reasoning_content", JsonValue.from("Falcons dive"))).build();
        ChatCompletion whole = client.chat().completions().create(params);
        int[] prompt = server.lastSubmitted().promptIds();
        int[] generationPrompt = encoder.encode(List.of(ChatMessage.user("Name a fast bird.")), List.of(),
                RenderOptions.defaults(), SpecialTextPolicy.AS_TEXT).ids();
        int[] reasoning = tokenizer.encodeOrdinary("Falcons dive");
        int[] want = Arrays.copyOf(generationPrompt, generationPrompt.length + reasoning.length);
        System.arraycopy(reasoning, 0, want, generationPrompt.length, reasoning.length);
        assertArrayEquals(want, prompt, "the generation prompt (ending in <think>), then the reasoning so far");
        // the parser starts inside the reasoning: the first token at least is reasoning
        assertTrue(reasoningTokens(whole) >= 1);
        assertEquals(prompt.length, whole.usage().orElseThrow().promptTokens());

        StringBuilder streamed = new StringBuilder();
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(params)) {
            s.stream().forEach(ch -> ch.choices().forEach(cc -> {
                JsonValue v = cc.delta()._additionalProperties().get("reasoning_content");
                if (v != null && !v.isNull()) {
                    streamed.append((String) v.asString().orElseThrow());
                }
            }));
        }
        JsonValue whole2 = whole.choices().getFirst().message()._additionalProperties().get("reasoning_content");
        assertEquals(whole2 == null ? "" : whole2.asString().orElseThrow(), streamed.toString());

        // the same prefix written inline: content that opens <think> and does not close it
        ChatCompletion inline = client.chat().completions().create(partial(ChatCompletionAssistantMessageParam
                .builder().content("<think>Falcons dive")).build());
        assertArrayEquals(prompt, server.lastSubmitted().promptIds());
        assertEquals(reasoningTokens(whole), reasoningTokens(inline));
        server.awaitIdle();
    }

    @Test
    void vllmsContinueFinalMessageIsTheSamePrompt() throws Exception {
        client.chat().completions().create(partial(ChatCompletionAssistantMessageParam.builder().content(PREFIX)).build());
        int[] partialPrompt = server.lastSubmitted().promptIds();
        assertArrayEquals(renderWithoutClosingMarker(ChatMessage.assistant(PREFIX)), partialPrompt);
        client.chat().completions().create(ChatCompletionCreateParams.builder().model(RealEngineServer.MODEL)
                .addUserMessage("Name a fast bird.").addAssistantMessage(PREFIX).maxCompletionTokens(2)
                .putAdditionalBodyProperty("continue_final_message", JsonValue.from(true))
                .putAdditionalBodyProperty("add_generation_prompt", JsonValue.from(false)).build());
        assertArrayEquals(partialPrompt, server.lastSubmitted().promptIds());
        server.awaitIdle();
    }

    @Test
    void misplacedPrefixesAreClearErrors() {
        var both = assertThrows(BadRequestException.class, () -> client.chat().completions().create(
                ChatCompletionCreateParams.builder().model(RealEngineServer.MODEL).addUserMessage("q")
                        .addAssistantMessage(PREFIX).maxCompletionTokens(2)
                        .putAdditionalBodyProperty("continue_final_message", JsonValue.from(true))
                        .putAdditionalBodyProperty("add_generation_prompt", JsonValue.from(true)).build()));
        assertEquals("continue_final_message", both.param().orElseThrow());
        var notLast = assertThrows(BadRequestException.class, () -> client.chat().completions().create(
                ChatCompletionCreateParams.builder().model(RealEngineServer.MODEL).addUserMessage("q")
                        .addMessage(ChatCompletionAssistantMessageParam.builder().content(PREFIX)
                                .putAdditionalProperty("partial", JsonValue.from(true)).build())
                        .addUserMessage("r").maxCompletionTokens(2).build()));
        assertEquals("messages[1].partial", notLast.param().orElseThrow());
        var onUser = assertThrows(BadRequestException.class, () -> client.chat().completions().create(
                ChatCompletionCreateParams.builder().model(RealEngineServer.MODEL).addUserMessage("q")
                        .maxCompletionTokens(2).putAdditionalBodyProperty("continue_final_message",
                                JsonValue.from(true)).build()));
        assertTrue(onUser.getMessage().contains("needs an assistant message last"), onUser.getMessage());
    }

    /** Anthropic's prefill is the final assistant turn: the same prompt as chat's partial mode. */
    @Test
    void anthropicPrefillIsTheSamePrompt() throws Exception {
        client.chat().completions().create(partial(ChatCompletionAssistantMessageParam.builder().content(PREFIX)).build());
        int[] chatPrompt = server.lastSubmitted().promptIds();
        var r = server.post("/v1/messages", JSON.writeValueAsString(Map.of("model", RealEngineServer.MODEL,
                "max_tokens", 4, "messages", List.of(Map.of("role", "user", "content", "Name a fast bird."),
                        Map.of("role", "assistant", "content", PREFIX)))));
        assertEquals(200, r.statusCode(), r.body());
        assertArrayEquals(chatPrompt, server.lastSubmitted().promptIds());
        JsonNode body = JSON.readTree(r.body());
        assertEquals("text", body.path("content").path(0).path("type").asText(), r.body());
        JsonNode usage = body.path("usage"); // Anthropic counts cache hits apart from input_tokens
        assertEquals(chatPrompt.length, usage.path("input_tokens").asInt()
                + usage.path("cache_read_input_tokens").asInt(), r.body());
        server.awaitIdle();
    }

    /** prompt_cache_key and safety_identifier are accepted and change nothing (one engine, content-keyed cache). */
    @Test
    void promptCacheKeyAndSafetyIdentifierAreAccepted() throws Exception {
        ChatCompletionCreateParams plain = ChatCompletionCreateParams.builder().model(RealEngineServer.MODEL)
                .addUserMessage("Hello there.").temperature(0.0).maxCompletionTokens(4).build();
        ChatCompletion a = client.chat().completions().create(plain);
        int[] prompt = server.lastSubmitted().promptIds();
        ChatCompletion b = client.chat().completions().create(plain.toBuilder().promptCacheKey("session-42")
                .safetyIdentifier("user-hash-1").build());
        assertArrayEquals(prompt, server.lastSubmitted().promptIds());
        assertEquals(a.choices().getFirst().message()._additionalProperties().get("reasoning_content"),
                b.choices().getFirst().message()._additionalProperties().get("reasoning_content"));
        assertEquals(a.usage().orElseThrow().promptTokens(), b.usage().orElseThrow().promptTokens());
        server.awaitIdle();
    }
}
