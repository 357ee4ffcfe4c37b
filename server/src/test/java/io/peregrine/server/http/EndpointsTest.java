package io.peregrine.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.engine.runtime.FinishReason;
import io.peregrine.server.fakes.FakeEngine.Script;
import io.peregrine.server.fakes.TestServer;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** /v1/models, /v1/completions, /tokenize and /detokenize in their wire shapes. */
class EndpointsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        server = new TestServer();
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @Test
    void modelsAdvertiseTheContextLength() throws Exception {
        JsonNode body = JSON.readTree(server.get("/v1/models").body());
        assertEquals("list", body.get("object").asText());
        assertEquals(2, body.get("data").size());
        JsonNode card = body.get("data").get(0);
        assertEquals("kimi-k2.5", card.get("id").asText());
        assertEquals("model", card.get("object").asText());
        assertEquals(4096, card.get("max_model_len").asInt());
        assertEquals("alias", body.get("data").get(1).get("id").asText());
        assertEquals(404, server.get("/v1/models/unknown").statusCode());
    }

    @Test
    void completionFromTextWithLogprobs() throws Exception {
        server.engine.script(r -> Script.of(FinishReason.LENGTH, "x", "y"));
        HttpResponse<String> r = server.post("/v1/completions",
                "{\"model\":\"alias\",\"prompt\":\"abc\",\"max_tokens\":2,\"logprobs\":1,\"temperature\":0}");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode body = JSON.readTree(r.body());
        assertEquals("text_completion", body.get("object").asText());
        assertEquals("alias", body.get("model").asText());
        JsonNode choice = body.get("choices").get(0);
        assertEquals("xy", choice.get("text").asText());
        assertEquals("length", choice.get("finish_reason").asText());
        JsonNode lp = choice.get("logprobs");
        assertEquals("[\"x\",\"y\"]", lp.get("tokens").toString());
        assertEquals(-0.5, lp.get("token_logprobs").get(0).asDouble(), 1e-6);
        assertEquals(-0.5, lp.get("top_logprobs").get(0).get("x").asDouble(), 1e-6);
        assertEquals("[0,1]", lp.get("text_offset").toString());
        assertEquals(3, body.get("usage").get("prompt_tokens").asInt());
        assertEquals(2, body.get("usage").get("completion_tokens").asInt());
        var req = server.engine.submitted.getLast();
        assertEquals(List.of(97, 98, 99), java.util.Arrays.stream(req.promptIds()).boxed().toList());
        assertEquals(1, req.sampling().logprobs());
        assertTrue(req.sampling().isGreedy());
    }

    @Test
    void completionFromTokenIdsStreamed() throws Exception {
        server.engine.script(r -> Script.of(FinishReason.STOP, "o", "k"));
        HttpResponse<String> r = server.post("/v1/completions",
                "{\"prompt\":[104,105],\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
        assertEquals(200, r.statusCode());
        assertTrue(r.headers().firstValue("content-type").orElse("").startsWith("text/event-stream"));
        List<JsonNode> events = sse(r.body());
        StringBuilder text = new StringBuilder();
        String finish = null;
        for (JsonNode e : events) {
            for (JsonNode c : e.get("choices")) {
                text.append(c.get("text").asText());
                if (!c.get("finish_reason").isNull()) {
                    finish = c.get("finish_reason").asText();
                }
            }
        }
        assertEquals("ok", text.toString());
        assertEquals("stop", finish);
        assertEquals(2, events.getLast().get("usage").get("prompt_tokens").asInt());
        assertEquals(0, events.getLast().get("choices").size());
        assertEquals(400, server.post("/v1/completions", "{\"prompt\":[104,999]}").statusCode());
    }

    /** Parses SSE {@code data:} events; asserts the stream ends with [DONE]. */
    static List<JsonNode> sse(String body) throws Exception {
        List<JsonNode> out = new ArrayList<>();
        String[] events = body.split("\n\n");
        assertEquals("data: [DONE]", events[events.length - 1]);
        for (int i = 0; i < events.length - 1; i++) {
            assertTrue(events[i].startsWith("data: "), events[i]);
            out.add(JSON.readTree(events[i].substring(6)));
        }
        return out;
    }

    @Test
    void tokenizeAndDetokenizeInVllmShapes() throws Exception {
        JsonNode t = JSON.readTree(server.post("/tokenize", "{\"prompt\":\"hé\",\"return_token_strs\":true}").body());
        assertEquals(3, t.get("count").asInt());
        assertEquals(4096, t.get("max_model_len").asInt());
        assertEquals("[104,195,169]", t.get("tokens").toString());
        assertEquals("h", t.get("token_strs").get(0).asText());
        JsonNode m = JSON.readTree(server.post("/tokenize", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                + "\"chat_template_kwargs\":{\"thinking\":false},\"add_generation_prompt\":false}").body());
        assertEquals("user: hi\n".length(), m.get("count").asInt());
        assertEquals(false, server.prompts.last.thinking().enabled());
        assertEquals(false, server.prompts.last.addGenerationPrompt());
        JsonNode d = JSON.readTree(server.post("/detokenize", "{\"tokens\":[104,195,169]}").body());
        assertEquals("hé", d.get("prompt").asText());
        assertEquals(400, server.post("/detokenize", "{\"tokens\":[-1]}").statusCode());
        assertEquals(400, server.post("/tokenize", "{}").statusCode());
    }

    @Test
    void moonshotTokenCountIsWhatChatBillsAsPromptTokens() throws Exception {
        String messages = "\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
                + "{\"role\":\"user\",\"content\":\"how many tokens is this?\"}]";
        HttpResponse<String> r = server.post("/v1/tokenizers/estimate-token-count",
                "{\"model\":\"kimi-k2.5\"," + messages + "}");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode count = JSON.readTree(r.body());
        assertEquals(1, count.size(), "only data: " + r.body());
        int total = count.get("data").get("total_tokens").asInt();
        JsonNode chat = JSON.readTree(server.post("/v1/chat/completions", "{\"model\":\"kimi-k2.5\"," + messages
                + ",\"max_tokens\":4}").body());
        assertEquals(chat.get("usage").get("prompt_tokens").asInt(), total, chat.toString());
        assertTrue(total > 0);
        // The chat endpoint's checks, with its statuses.
        assertEquals(404, server.post("/v1/tokenizers/estimate-token-count",
                "{\"model\":\"gpt-9\"," + messages + "}").statusCode());
        assertEquals(400, server.post("/v1/tokenizers/estimate-token-count", "{\"model\":\"kimi-k2.5\"}").statusCode());
        assertEquals(405, server.get("/v1/tokenizers/estimate-token-count").statusCode());
    }

    @Test
    void concurrentStreamsDoNotMix() throws Exception {
        server.engine.script(r -> {
            String tag = server.engine.codecText(r);
            return Script.of(FinishReason.STOP, "</think>", tag, "-", tag);
        });
        java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
        List<java.util.concurrent.CompletableFuture<HttpResponse<String>>> futures = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            String body = "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"" + (char) ('a' + i) + "\"}]}";
            futures.add(http.sendAsync(java.net.http.HttpRequest.newBuilder(
                    java.net.URI.create(server.baseUrl() + "/v1/chat/completions"))
                    .POST(java.net.http.HttpRequest.BodyPublishers.ofString(body)).build(),
                    HttpResponse.BodyHandlers.ofString()));
        }
        for (int i = 0; i < 16; i++) {
            String tag = String.valueOf((char) ('a' + i));
            StringBuilder content = new StringBuilder();
            for (JsonNode e : sse(futures.get(i).get(10, java.util.concurrent.TimeUnit.SECONDS).body())) {
                JsonNode c = e.get("choices").get(0).get("delta").get("content");
                if (c != null) {
                    content.append(c.asText());
                }
            }
            assertEquals(tag + "-" + tag, content.toString());
        }
        http.close();
    }

    @Test
    void streamedChatIsWellFormedSse() throws Exception {
        server.engine.script(r -> Script.of(FinishReason.STOP, "</think>", "hi"));
        HttpResponse<String> r = server.post("/v1/chat/completions",
                "{\"stream\":true,\"n\":2,\"messages\":[{\"role\":\"user\",\"content\":\"yo\"}]}");
        assertEquals("no-cache", r.headers().firstValue("cache-control").orElse(""));
        List<JsonNode> events = sse(r.body());
        int finishes = 0;
        for (JsonNode e : events) {
            assertEquals("chat.completion.chunk", e.get("object").asText());
            assertTrue(e.get("choices").get(0).has("finish_reason"), "finish_reason is always present (null or set)");
            if (!e.get("choices").get(0).get("finish_reason").isNull()) {
                finishes++;
            }
            assertTrue(!e.has("usage"), "no usage unless asked for");
        }
        assertEquals(2, finishes, "one finish per choice");
    }
}
