package io.peregrine.server.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A KV cache too small for the concurrent requests: the engine preempts and recomputes, every request still
 * gives what it gives alone, and {@code vllm:num_preemptions_total} counts what happened.
 */
class RealEnginePreemptionTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern PREEMPTIONS = Pattern.compile(
            "(?m)^vllm:num_preemptions_total\\{model_name=\"demo\"} ([0-9.eE+-]+)$");

    @TempDir
    Path dir;

    private static String body(int i) throws Exception {
        return JSON.writeValueAsString(Map.of("model", "demo", "max_tokens", 60, "ignore_eos", true,
                "temperature", 0.0, "chat_template_kwargs", Map.of("thinking", false),
                "messages", List.of(Map.of("role", "user", "content", "Story number " + i + " about a falcon."))));
    }

    private static String content(HttpResponse<String> r) throws Exception {
        assertEquals(200, r.statusCode(), r.body());
        JsonNode c = JSON.readTree(r.body()).get("choices").get(0);
        assertEquals("length", c.get("finish_reason").asText());
        return c.get("message").path("content").asText();
    }

    @Test
    void preemptedRequestsGiveWhatTheyGiveAloneAndAreCounted() throws Exception {
        try (RealEngineServer server = new RealEngineServer(dir.resolve("tiny"), 8, 48L << 10)) {
            long blocks = server.engine.stats().kvBlocksTotal();
            // each request needs ceil((prompt + 60) / 16) = 5 or 6 blocks; four of them do not fit together
            assertTrue(blocks >= 6 && blocks < 20, "cache of " + blocks + " blocks does not make the test's point");
            List<String> alone = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                alone.add(content(server.post("/v1/chat/completions", body(i))));
            }
            List<CompletableFuture<HttpResponse<String>>> together = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                String b = body(i);
                together.add(CompletableFuture.supplyAsync(() -> {
                    try {
                        return server.post("/v1/chat/completions", b);
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                }));
            }
            for (int i = 0; i < 4; i++) {
                assertEquals(alone.get(i), content(together.get(i).get(30, TimeUnit.SECONDS)), "request " + i);
            }
            server.awaitIdle();
            Matcher m = PREEMPTIONS.matcher(server.get("/metrics").body());
            assertTrue(m.find(), "vllm:num_preemptions_total is exported");
            assertTrue(Double.parseDouble(m.group(1)) > 0, "the cache never ran out; the test does not test preemption");
        }
    }
}
