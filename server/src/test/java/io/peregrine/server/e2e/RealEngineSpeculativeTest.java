package io.peregrine.server.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.engine.spec.SpeculativeConfig;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --speculative-config} ngram on the demo checkpoint over HTTP: greedy chat completions give what they give
 * without speculation, and /metrics counts the drafts under vLLM's spec_decode names.
 */
class RealEngineSpeculativeTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern SAMPLE = Pattern.compile(
            "([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[^}]*\\})? (-?[0-9.eE+-]+|NaN|\\+Inf|-Inf)");

    /** The Prometheus text's samples by name and labels (every non-comment line must be one). */
    private static Map<String, Double> parse(String text) {
        Map<String, Double> samples = new HashMap<>();
        for (String line : text.split("\n")) {
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            Matcher m = SAMPLE.matcher(line);
            assertTrue(m.matches(), "not a Prometheus sample: " + line);
            samples.put(m.group(1) + (m.group(2) == null ? "" : m.group(2)), Double.parseDouble(m.group(3)));
        }
        return samples;
    }

    @TempDir
    Path dir;

    private static String body() throws Exception {
        String repeated = "the falcon flies over the river and the falcon flies over the hill; ".repeat(4);
        return JSON.writeValueAsString(Map.of("model", "demo", "max_tokens", 200, "ignore_eos", true,
                "temperature", 0.0, "logprobs", true, "chat_template_kwargs", Map.of("thinking", false),
                "messages", List.of(Map.of("role", "user", "content", repeated))));
    }

    private static JsonNode choice(HttpResponse<String> r) throws Exception {
        assertEquals(200, r.statusCode(), r.body());
        return JSON.readTree(r.body()).get("choices").get(0);
    }

    @Test
    void greedyOutputIsUnchangedAndDraftsAreCounted() throws Exception {
        JsonNode plain;
        try (RealEngineServer server = new RealEngineServer(dir.resolve("tiny"), 8, 32L << 20)) {
            plain = choice(server.post("/v1/chat/completions", body()));
        }
        try (RealEngineServer server = new RealEngineServer(dir.resolve("tiny"), 8, 32L << 20, null,
                SpeculativeConfig.ngram(3, 1, 4))) {
            JsonNode spec = choice(server.post("/v1/chat/completions", body()));
            assertEquals(plain.get("message").get("content"), spec.get("message").get("content"));
            assertEquals(plain.get("logprobs").get("content").size(), spec.get("logprobs").get("content").size());
            for (int i = 0; i < plain.get("logprobs").get("content").size(); i++) {
                assertEquals(plain.get("logprobs").get("content").get(i).get("token"),
                        spec.get("logprobs").get("content").get(i).get("token"), "token " + i);
            }
            server.awaitIdle();
            Map<String, Double> s = parse(server.get("/metrics").body());
            double drafts = s.get("vllm:spec_decode_num_drafts_total{model_name=\"demo\"}");
            double draftTokens = s.get("vllm:spec_decode_num_draft_tokens_total{model_name=\"demo\"}");
            double accepted = s.get("vllm:spec_decode_num_accepted_tokens_total{model_name=\"demo\"}");
            assertTrue(drafts > 0, "nothing was drafted");
            assertTrue(draftTokens >= drafts && draftTokens <= 3 * drafts, drafts + " drafts, " + draftTokens);
            assertTrue(accepted >= 0 && accepted <= draftTokens);
            double perPos = s.entrySet().stream()
                    .filter(e -> e.getKey().startsWith("vllm:spec_decode_num_accepted_tokens_per_pos_total{"))
                    .mapToDouble(Map.Entry::getValue).sum();
            assertEquals(accepted, perPos, "per-position counts add up to the accepted tokens");
        }
    }
}
