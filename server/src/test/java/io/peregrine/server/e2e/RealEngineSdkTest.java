package io.peregrine.server.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.models.ReasoningEffort;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.chat.completions.ChatCompletionTokenLogprob;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import com.openai.models.completions.CompletionUsage;
import io.peregrine.engine.tokenizer.KimiTokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The official OpenAI Java SDK over loopback against the real engine and model (tiny demo checkpoint, real
 * tokenizer and chat template). The demo weights are random, so the tests check what must hold for any model:
 * streaming equals non-streaming, the thinking switch reaches the prompt, seeds reproduce, logprobs and usage
 * agree with the tokens, stop strings cut where the unstopped text had them.
 */
class RealEngineSdkTest {
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

    private static ChatCompletionCreateParams.Builder ask(String text) {
        return ChatCompletionCreateParams.builder().model(RealEngineServer.MODEL).addUserMessage(text);
    }

    private static ChatCompletionCreateParams.Builder instant(ChatCompletionCreateParams.Builder b) {
        return b.putAdditionalBodyProperty("chat_template_kwargs", JsonValue.from(Map.of("thinking", false)));
    }

    private static String reasoning(Map<String, JsonValue> props) {
        JsonValue v = props.get("reasoning_content");
        return v == null ? null : (String) v.asString().orElse(null);
    }

    @Test
    void thinkingTokenBudgetEndsTheReasoningAndTheAnswerFollows() throws Exception {
        ChatCompletionCreateParams free = ask("Think about raptors, then answer.").temperature(0.0)
                .maxCompletionTokens(24).putAdditionalBodyProperty("ignore_eos", JsonValue.from(true)).build();
        ChatCompletion unbounded = client.chat().completions().create(free);
        // random weights never close their think block on their own: without the budget there is no answer
        assertEquals(24, unbounded.usage().orElseThrow().completionTokensDetails().orElseThrow().reasoningTokens()
                .orElseThrow());
        assertEquals("", unbounded.choices().getFirst().message().content().orElse(""));

        ChatCompletion bounded = client.chat().completions().create(free.toBuilder()
                .putAdditionalBodyProperty("thinking_token_budget", JsonValue.from(5)).build());
        String thought = reasoning(bounded.choices().getFirst().message()._additionalProperties());
        String unboundedThought = reasoning(unbounded.choices().getFirst().message()._additionalProperties());
        assertTrue(unboundedThought.startsWith(thought), "the same reasoning, cut: " + thought);
        // five reasoning tokens, then the forced </think> (counted with the reasoning), then 18 of answer
        assertEquals(6, bounded.usage().orElseThrow().completionTokensDetails().orElseThrow().reasoningTokens()
                .orElseThrow());
        assertFalse(bounded.choices().getFirst().message().content().orElse("").isEmpty());

        var e = assertThrows(com.openai.errors.BadRequestException.class, () -> client.chat().completions().create(
                free.toBuilder().putAdditionalBodyProperty("thinking_token_budget", JsonValue.from(0)).build()));
        assertEquals("thinking_token_budget", e.param().orElseThrow());
        server.awaitIdle();
    }

    @Test
    void streamingGivesWhatNonStreamingGives() throws Exception {
        ChatCompletionCreateParams params = instant(ask("Tell me about peregrine falcons: where they live, what they hunt, and how fast they dive.")).temperature(0.0)
                .maxCompletionTokens(12).build();
        ChatCompletion whole = client.chat().completions().create(params);
        int promptLength = server.lastSubmitted().promptLength();
        ChatCompletion.Choice c = whole.choices().getFirst();
        var usage = whole.usage().orElseThrow();
        assertEquals(promptLength, usage.promptTokens());
        assertTrue(usage.completionTokens() >= 1 && usage.completionTokens() <= 12);
        assertEquals(usage.promptTokens() + usage.completionTokens(), usage.totalTokens());
        assertEquals(0, usage.completionTokensDetails().orElseThrow().reasoningTokens().orElseThrow());

        List<ChatCompletionChunk> chunks = new ArrayList<>();
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(params.toBuilder()
                .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build())) {
            s.stream().forEach(chunks::add);
        }
        StringBuilder content = new StringBuilder();
        String finish = null;
        for (ChatCompletionChunk ch : chunks) {
            for (ChatCompletionChunk.Choice cc : ch.choices()) {
                cc.delta().content().ifPresent(content::append);
                if (cc.finishReason().isPresent()) {
                    finish = cc.finishReason().get().asString();
                }
            }
        }
        assertEquals(c.message().content().orElse(""), content.toString());
        assertEquals(c.finishReason().asString(), finish);
        ChatCompletionChunk last = chunks.getLast();
        assertTrue(last.choices().isEmpty(), "usage chunk has no choices");
        var streamedUsage = last.usage().orElseThrow();
        assertEquals(usage.promptTokens(), streamedUsage.promptTokens());
        assertEquals(usage.completionTokens(), streamedUsage.completionTokens());
        assertTrue(chunks.subList(0, chunks.size() - 1).stream().allMatch(ch -> ch.usage().isEmpty()));
        // the second request's prompt came from the prefix cache
        assertTrue(streamedUsage.promptTokensDetails().orElseThrow().cachedTokens().orElseThrow() > 0);
        server.awaitIdle();
    }

    private record Spelling(String name, boolean thinking, UnaryOperator<ChatCompletionCreateParams.Builder> apply) {}

    @Test
    void everySpellingOfTheThinkingSwitchReachesThePrompt() throws Exception {
        int think = tokenizer.requireSpecialId("<think>");
        int endThink = tokenizer.requireSpecialId("</think>");
        List<Spelling> spellings = List.of(
                new Spelling("omitted", true, b -> b),
                new Spelling("thinking.type enabled", true,
                        b -> b.putAdditionalBodyProperty("thinking", JsonValue.from(Map.of("type", "enabled")))),
                new Spelling("thinking.type disabled", false,
                        b -> b.putAdditionalBodyProperty("thinking", JsonValue.from(Map.of("type", "disabled")))),
                new Spelling("chat_template_kwargs.thinking true", true, b -> b.putAdditionalBodyProperty(
                        "chat_template_kwargs", JsonValue.from(Map.of("thinking", true)))),
                new Spelling("chat_template_kwargs.thinking false", false, b -> b.putAdditionalBodyProperty(
                        "chat_template_kwargs", JsonValue.from(Map.of("thinking", false)))),
                new Spelling("chat_template_kwargs.enable_thinking false", false, b -> b.putAdditionalBodyProperty(
                        "chat_template_kwargs", JsonValue.from(Map.of("enable_thinking", false)))),
                new Spelling("reasoning_effort high", true, b -> b.reasoningEffort(ReasoningEffort.HIGH)),
                new Spelling("reasoning_effort none", false, b -> b.reasoningEffort(ReasoningEffort.of("none"))));
        int[] thinkingPrompt = null;
        int[] instantPrompt = null;
        for (Spelling s : spellings) {
            ChatCompletion r = client.chat().completions().create(
                    s.apply().apply(ask("Why is the sky blue?").temperature(0.0).maxCompletionTokens(6)).build());
            int[] prompt = server.lastSubmitted().promptIds();
            int lastId = prompt[prompt.length - 1];
            var usage = r.usage().orElseThrow();
            long reasoningTokens = usage.completionTokensDetails().orElseThrow().reasoningTokens().orElseThrow();
            ChatCompletion.Choice c = r.choices().getFirst();
            if (s.thinking()) {
                assertEquals(think, lastId, s.name() + ": the prompt opens a think block");
                thinkingPrompt = check(thinkingPrompt, prompt, s.name());
                // random weights rarely close the block: then every token is reasoning
                String text = reasoning(c.message()._additionalProperties());
                if (c.message().content().orElse("").isEmpty()) {
                    assertEquals(usage.completionTokens(), reasoningTokens, s.name());
                    assertTrue(text != null && !text.isEmpty(), s.name() + ": reasoning_content carries the output");
                } else {
                    assertTrue(reasoningTokens < usage.completionTokens(), s.name());
                }
            } else {
                assertEquals(endThink, lastId, s.name() + ": the prompt closes an empty think block");
                assertEquals(think, prompt[prompt.length - 2], s.name());
                instantPrompt = check(instantPrompt, prompt, s.name());
                assertEquals(0, reasoningTokens, s.name());
                assertEquals(null, reasoning(c.message()._additionalProperties()), s.name());
            }
        }
        assertEquals(thinkingPrompt.length + 1, instantPrompt.length);
        assertTrue(Arrays.equals(thinkingPrompt, Arrays.copyOf(instantPrompt, thinkingPrompt.length)),
                "the modes differ only in the closing </think>");
        server.awaitIdle();
    }

    private static int[] check(int[] seen, int[] prompt, String name) {
        if (seen != null) {
            assertTrue(Arrays.equals(seen, prompt), name + ": same mode, same prompt");
        }
        return prompt;
    }

    @Test
    void seededChoicesReproduceAndNCountsInUsage() throws Exception {
        ChatCompletionCreateParams params = instant(ask("Pick three words.")).temperature(1.0).seed(1234).n(3)
                .maxCompletionTokens(8).putAdditionalBodyProperty("ignore_eos", JsonValue.from(true)).build();
        ChatCompletion a = client.chat().completions().create(params);
        ChatCompletion b = client.chat().completions().create(params);
        assertEquals(3, a.choices().size());
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            assertEquals(i, a.choices().get(i).index());
            String ta = a.choices().get(i).message().content().orElse("");
            assertEquals(ta, b.choices().get(i).message().content().orElse(""), "choice " + i + " reproduces");
            assertEquals(ChatCompletion.Choice.FinishReason.LENGTH, a.choices().get(i).finishReason());
            texts.add(ta);
        }
        assertNotEquals(1, texts.stream().distinct().count(), "n=3 at temperature 1 gave three equal choices");
        assertEquals(24, a.usage().orElseThrow().completionTokens());
        ChatCompletion other = client.chat().completions().create(params.toBuilder().seed(99).build());
        assertNotEquals(texts, other.choices().stream().map(ch -> ch.message().content().orElse("")).toList());
        server.awaitIdle();
    }

    /** Each choice's streamed content, by index. */
    private static List<String> streamedContents(ChatCompletionCreateParams params, int n) {
        List<StringBuilder> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(new StringBuilder());
        }
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(params)) {
            s.stream().forEach(ch -> ch.choices().forEach(
                    c -> c.delta().content().ifPresent(t -> out.get((int) c.index()).append(t))));
        }
        return out.stream().map(StringBuilder::toString).toList();
    }

    @Test
    void streamedChoicesAndStopStringsMatchTheNonStreamedOnes() throws Exception {
        ChatCompletionCreateParams params = instant(ask("Name some raptors.")).temperature(0.9).seed(77).n(2)
                .maxCompletionTokens(10).putAdditionalBodyProperty("ignore_eos", JsonValue.from(true)).build();
        List<String> whole = client.chat().completions().create(params).choices().stream()
                .map(c -> c.message().content().orElse("")).toList();
        assertEquals(whole, streamedContents(params, 2));

        String text = whole.getFirst();
        assertTrue(text.length() >= 6, "too little text to cut: '" + text + "'");
        String stop = text.substring(text.length() / 2, text.length() / 2 + 2);
        ChatCompletionCreateParams stopped = params.toBuilder().n(1).stopOfStrings(List.of(stop)).build();
        String cut = client.chat().completions().create(stopped).choices().getFirst().message().content().orElse("");
        assertEquals(text.substring(0, text.indexOf(stop)), cut);
        assertEquals(List.of(cut), streamedContents(stopped, 1));
        server.awaitIdle();
    }

    @Test
    void logprobsDescribeTheChosenTokens() throws Exception {
        ChatCompletion r = client.chat().completions().create(instant(ask("Count.")).temperature(0.0)
                .maxCompletionTokens(6).logprobs(true).topLogprobs(3)
                .putAdditionalBodyProperty("ignore_eos", JsonValue.from(true)).build());
        List<ChatCompletionTokenLogprob> lps = r.choices().getFirst().logprobs().orElseThrow().content().orElseThrow();
        assertEquals(6, r.usage().orElseThrow().completionTokens());
        assertFalse(lps.isEmpty());
        assertTrue(lps.size() <= 6);
        for (ChatCompletionTokenLogprob lp : lps) {
            assertEquals(3, lp.topLogprobs().size());
            assertTrue(lp.logprob() <= 0.0);
            // greedy: the chosen token is the most likely one
            assertEquals(lp.topLogprobs().getFirst().token(), lp.token());
            assertEquals(lp.topLogprobs().getFirst().logprob(), lp.logprob(), 1e-6);
            for (int k = 1; k < 3; k++) {
                assertTrue(lp.topLogprobs().get(k).logprob() <= lp.topLogprobs().get(k - 1).logprob());
            }
        }
        server.awaitIdle();
    }

    @Test
    void stopStringsCutWhereTheTextHadThem() throws Exception {
        ChatCompletionCreateParams params = instant(ask("Say something long.")).temperature(0.0)
                .maxCompletionTokens(16).putAdditionalBodyProperty("ignore_eos", JsonValue.from(true)).build();
        String full = client.chat().completions().create(params).choices().getFirst().message().content().orElse("");
        assertTrue(full.length() >= 8, "too little text to cut: '" + full + "'");
        String stop = full.substring(full.length() / 2, full.length() / 2 + 2);
        int at = full.indexOf(stop);
        ChatCompletion cut = client.chat().completions().create(params.toBuilder().stopOfStrings(List.of(stop)).build());
        ChatCompletion.Choice c = cut.choices().getFirst();
        assertEquals(full.substring(0, at), c.message().content().orElse(""), "stop '" + stop + "' in '" + full + "'");
        assertEquals(ChatCompletion.Choice.FinishReason.STOP, c.finishReason());
        assertTrue(cut.usage().orElseThrow().completionTokens() < 16);
        server.awaitIdle();
    }

    @Test
    void completionsTakeTextOrTokenIds() throws Exception {
        String prompt = "The peregrine falcon is";
        Completion fromText = client.completions().create(CompletionCreateParams.builder()
                .model(RealEngineServer.MODEL).prompt(prompt).maxTokens(8).temperature(0.0).logprobs(2).build());
        int[] ids = server.lastSubmitted().promptIds();
        Completion fromIds = client.completions().create(CompletionCreateParams.builder()
                .model(RealEngineServer.MODEL)
                .promptOfArrayOfTokens(Arrays.stream(ids).mapToLong(i -> i).boxed().toList())
                .maxTokens(8).temperature(0.0).logprobs(2).build());
        assertTrue(Arrays.equals(ids, server.lastSubmitted().promptIds()), "the ids reached the engine as sent");
        String text = fromText.choices().getFirst().text();
        assertEquals(text, fromIds.choices().getFirst().text());
        CompletionUsage u = fromText.usage().orElseThrow();
        assertEquals(ids.length, u.promptTokens());
        assertEquals(u, fromIds.usage().orElseThrow().toBuilder()
                .promptTokensDetails(u.promptTokensDetails().orElse(null)).build());
        var lp = fromText.choices().getFirst().logprobs().orElseThrow();
        assertEquals(u.completionTokens(), lp.tokens().orElseThrow().size());
        assertEquals(String.join("", lp.tokens().orElseThrow()), text);
        for (var top : lp.topLogprobs().orElseThrow()) {
            assertEquals(2, top._additionalProperties().size(), "top_logprobs entry " + top);
        }
        server.awaitIdle();
    }
}
