package io.peregrine.server.e2e;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import io.peregrine.server.app.HttpServer;
import io.peregrine.server.app.ServerConfig;
import io.peregrine.server.app.ShutdownSequence;
import io.peregrine.server.metrics.ServerMetrics;
import io.peregrine.server.serving.ServingState;
import io.peregrine.server.tracing.Tracing;
import io.peregrine.server.wiring.RuntimeLoader;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * A runtime loaded from a tiny demo checkpoint on the CPU backend, behind its own HTTP server, with an OpenAI SDK
 * client over loopback: the fixture of the end-to-end tests that compare one way of serving with another (ranks,
 * nodes, expert placement).
 */
record ServedRuntime(ServingState state, HttpServer server, ServerMetrics metrics, OpenAIClient client) {
    static final String MODEL = "demo";

    static ServedRuntime start(Path checkpoint, int threads, RuntimeLoader.MoeOptions moe,
                               RuntimeLoader.Parallel parallel) throws Exception {
        ServingState state = new ServingState();
        ServerMetrics metrics = new ServerMetrics(MODEL, state::stats);
        state.ready(RuntimeLoader.load(new RuntimeLoader.Options(checkpoint, List.of(MODEL), 2048, 4, 64, 256,
                32L << 20, 16, "cpu", "tiny", RuntimeLoader.MediaOptions.defaults(), false, null,
                RuntimeLoader.Options.AUTO, threads, null, moe, false), parallel, state, metrics, Tracing.off()));
        HttpServer server = HttpServer.start(ServerConfig.defaults().withPort(0), state, metrics);
        OpenAIClient client = OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + server.port() + "/v1")
                .apiKey("unused").maxRetries(0).timeout(Duration.ofSeconds(30)).build();
        return new ServedRuntime(state, server, metrics, client);
    }

    String base() {
        return "http://127.0.0.1:" + server.port();
    }

    void shutdown() {
        client.close();
        new ShutdownSequence(state, server, 5_000).run();
        metrics.close();
    }

    static ChatCompletionCreateParams greedy(String text, int tokens) {
        return ChatCompletionCreateParams.builder().model(MODEL).addUserMessage(text).temperature(0.0)
                .maxCompletionTokens(tokens).putAdditionalBodyProperty("ignore_eos", JsonValue.from(true)).build();
    }

    /** Reasoning and answer: the tiny model's random weights seldom leave the think block, so both count. */
    static String text(ChatCompletion c) {
        var m = c.choices().getFirst().message();
        JsonValue r = m._additionalProperties().get("reasoning_content");
        return (r == null ? "" : r.asString().orElse("")) + "|" + m.content().orElse("");
    }

    static String streamed(OpenAIClient client, ChatCompletionCreateParams params) {
        StringBuilder reasoning = new StringBuilder();
        StringBuilder content = new StringBuilder();
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(params)) {
            s.stream().forEach(chunk -> chunk.choices().forEach(ch -> {
                ch.delta().content().ifPresent(content::append);
                JsonValue r = ch.delta()._additionalProperties().get("reasoning_content");
                if (r != null) {
                    r.asString().ifPresent(reasoning::append);
                }
            }));
        }
        return reasoning + "|" + content;
    }
}
