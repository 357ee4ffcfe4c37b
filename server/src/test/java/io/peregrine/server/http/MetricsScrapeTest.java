package io.peregrine.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.runtime.FinishReason;
import io.peregrine.server.fakes.FakeEngine.Script;
import io.peregrine.server.fakes.TestServer;
import java.net.http.HttpResponse;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** /metrics is valid Prometheus text with vLLM's names, and the numbers move with traffic. */
public class MetricsScrapeTest {
    // name{labels} value, per the Prometheus text exposition format.
    private static final Pattern SAMPLE = Pattern.compile(
            "([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[^}]*\\})? (-?[0-9.eE+-]+|NaN|\\+Inf|-Inf)");

    /** Parses every sample line; fails on any line that is neither a comment nor a sample. */
    public static Map<String, Double> parse(String text) {
        Map<String, Double> samples = new HashMap<>();
        for (String line : text.split("\n")) {
            if (line.isEmpty() || line.startsWith("#")) {
                assertTrue(line.isEmpty() || line.startsWith("# HELP ") || line.startsWith("# TYPE ")
                        || line.startsWith("# UNIT ") || line.equals("# EOF"), line);
                continue;
            }
            Matcher m = SAMPLE.matcher(line);
            assertTrue(m.matches(), "not a Prometheus sample: " + line);
            samples.put(m.group(1) + (m.group(2) == null ? "" : m.group(2)), Double.parseDouble(m.group(3)));
        }
        return samples;
    }

    private static double value(Map<String, Double> samples, String name, String labelPart) {
        return samples.entrySet().stream()
                .filter(e -> e.getKey().startsWith(name + "{") && e.getKey().contains(labelPart))
                .mapToDouble(Map.Entry::getValue).findFirst()
                .orElseThrow(() -> new AssertionError("no sample " + name + " with " + labelPart));
    }

    @Test
    void scrapeHasVllmNamesAndCountsTraffic() throws Exception {
        try (TestServer server = new TestServer()) {
            server.engine.script(r -> Script.of(FinishReason.STOP, "a", "b", "c"));
            assertEquals(200, server.post("/v1/chat/completions",
                    "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}").statusCode());
            server.engine.script(r -> Script.of(FinishReason.LENGTH, "a"));
            assertEquals(200, server.post("/v1/chat/completions",
                    "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}").statusCode());
            // the fake engine counts a request as running until its thread returns, just after the last event the
            // client may already have read
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (server.engine.running.get() > 0 && System.nanoTime() < deadline) {
                Thread.sleep(1);
            }
            HttpResponse<String> r = server.get("/metrics");
            assertEquals(200, r.statusCode());
            assertTrue(r.headers().firstValue("content-type").orElse("").startsWith("text/plain"));
            Map<String, Double> s = parse(r.body());
            String model = "model_name=\"kimi-k2.5\"";
            assertEquals(0.0, value(s, "vllm:num_requests_running", model));
            assertEquals(0.0, value(s, "vllm:num_requests_waiting", model));
            assertEquals(0.0, value(s, "vllm:kv_cache_usage_perc", model));
            assertEquals(2 * "user: hi\n".length(), value(s, "vllm:prompt_tokens_total", model));
            assertEquals(4.0, value(s, "vllm:generation_tokens_total", model));
            assertEquals(18.0, value(s, "vllm:prefix_cache_queries_total", model));
            assertEquals(9.0, value(s, "vllm:prefix_cache_hits_total", model));
            assertEquals(1.0, value(s, "vllm:request_success_total", "finished_reason=\"stop\""));
            assertEquals(1.0, value(s, "vllm:request_success_total", "finished_reason=\"length\""));
            assertEquals(2.0, value(s, "vllm:time_to_first_token_seconds_count", model));
            assertEquals(2.0, value(s, "vllm:e2e_request_latency_seconds_count", model));
            assertEquals(2.0, value(s, "vllm:request_queue_time_seconds_count", model));
            assertEquals(2.0, value(s, "vllm:inter_token_latency_seconds_count", model), "3 tokens → 2 gaps, 1 token → 0");
            assertEquals(2.0, value(s, "vllm:time_to_first_token_seconds_bucket", "le=\"2560.0\""));
            assertEquals(4.0, value(s, "vllm:request_generation_tokens_sum", model));
            assertEquals(1.0, value(s, "vllm:request_generation_tokens_bucket", "le=\"1.0\""), "the 1-token request");
            assertEquals(18.0, value(s, "vllm:request_prompt_tokens_sum", model));
            assertTrue(s.keySet().stream().anyMatch(k -> k.startsWith("jvm_memory_used_bytes")), "JVM metrics");
        }
    }

    @Test
    void legacyGpuCacheUsageAliasTracksKvCacheUsage() {
        var stats = new java.util.concurrent.atomic.AtomicReference<>(
                new io.peregrine.engine.runtime.EngineStats(0, 1, 0.375, 3, 8, 0, 0, 0, 0));
        try (var metrics = new io.peregrine.server.metrics.ServerMetrics("kimi-k2.5", stats::get)) {
            Map<String, Double> s = parse(metrics.scrape());
            assertEquals(0.375, value(s, "vllm:kv_cache_usage_perc", "model_name=\"kimi-k2.5\""));
            assertEquals(0.375, value(s, "vllm:gpu_cache_usage_perc", "model_name=\"kimi-k2.5\""));
            stats.set(new io.peregrine.engine.runtime.EngineStats(0, 2, 0.75, 6, 8, 0, 0, 0, 0));
            s = parse(metrics.scrape());
            assertEquals(0.75, value(s, "vllm:gpu_cache_usage_perc", "model_name=\"kimi-k2.5\""), "read live, not once");
            assertEquals(1, s.keySet().stream().filter(k -> k.startsWith("vllm:gpu_cache_usage_perc{")).count());
        }
    }
}
