package io.peregrine.server.e2e;

import static io.peregrine.server.e2e.RealEngineServer.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Raw HTTP against the real engine on the tiny demo checkpoint, one running sequence at a time so a second
 * request queues: tokenize round trips, disconnects free what they held, and /metrics agrees with the traffic.
 */
class RealEngineHttpTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern SAMPLE = Pattern.compile(
            "([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[^}]*\\})? (-?[0-9.eE+-]+|NaN|\\+Inf|-Inf)");

    @TempDir
    static Path dir;
    private static RealEngineServer server;

    @BeforeAll
    static void start() throws Exception {
        server = new RealEngineServer(dir.resolve("tiny"), 1);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static JsonNode post(String path, String body) throws Exception {
        HttpResponse<String> r = server.post(path, body);
        assertEquals(200, r.statusCode(), r.body());
        return JSON.readTree(r.body());
    }

    /** Every sample of a Prometheus text scrape; fails on a line that is neither a comment nor a sample. */
    private static Map<String, Double> scrape() throws Exception {
        HttpResponse<String> r = server.get("/metrics");
        assertEquals(200, r.statusCode());
        Map<String, Double> samples = new HashMap<>();
        for (String line : r.body().split("\n")) {
            if (line.isEmpty() || line.startsWith("# HELP ") || line.startsWith("# TYPE ") || line.equals("# EOF")) {
                continue;
            }
            Matcher m = SAMPLE.matcher(line);
            assertTrue(m.matches(), "not a Prometheus sample: " + line);
            samples.put(m.group(1) + (m.group(2) == null ? "" : m.group(2)), Double.parseDouble(m.group(3)));
        }
        return samples;
    }

    private static double value(Map<String, Double> samples, String name, String label) {
        return samples.entrySet().stream()
                .filter(e -> e.getKey().startsWith(name + "{") && e.getKey().contains(label))
                .mapToDouble(Map.Entry::getValue).findFirst().orElse(0.0);
    }

    private static double model(Map<String, Double> samples, String name) {
        return value(samples, name, "model_name=\"" + RealEngineServer.MODEL + "\"");
    }

    @Test
    void completionsHonourAddSpecialTokens() throws Exception {
        String body = "{\"model\":\"demo\",\"prompt\":\"Kestrels hover\",\"max_tokens\":1";
        long with = post("/v1/completions", body + "}").get("usage").get("prompt_tokens").asLong();
        long without = post("/v1/completions", body + ",\"add_special_tokens\":false}").get("usage")
                .get("prompt_tokens").asLong();
        assertEquals(with - 1, without, "add_special_tokens: false must drop the BOS token");
        server.awaitIdle();
    }

    @Test
    void tokenizeAndDetokenizeRoundTrip() throws Exception {
        String text = "Peregrine falcons dive at 390 km/h — schnell! 你好 🦅";
        JsonNode t = post("/tokenize", JSON.writeValueAsString(Map.of("model", RealEngineServer.MODEL,
                "prompt", text, "add_special_tokens", false)));
        assertEquals(t.get("tokens").size(), t.get("count").asInt());
        assertEquals(2048, t.get("max_model_len").asInt());
        JsonNode d = post("/detokenize", JSON.writeValueAsString(Map.of("model", RealEngineServer.MODEL,
                "tokens", t.get("tokens"))));
        assertEquals(text, d.get("prompt").asText());

        // the messages form renders exactly the prompt the chat endpoint sends to the engine
        var messages = java.util.List.of(Map.of("role", "system", "content", "Be brief."),
                Map.of("role", "user", "content", "Where do falcons nest?"));
        JsonNode chatTokens = post("/tokenize", JSON.writeValueAsString(Map.of("model", RealEngineServer.MODEL,
                "messages", messages, "chat_template_kwargs", Map.of("thinking", false))));
        post("/v1/chat/completions", JSON.writeValueAsString(Map.of("model", RealEngineServer.MODEL,
                "messages", messages, "chat_template_kwargs", Map.of("thinking", false), "max_tokens", 2)));
        int[] sent = server.lastSubmitted().promptIds();
        assertEquals(chatTokens.get("count").asInt(), sent.length);
        for (int i = 0; i < sent.length; i++) {
            assertEquals(chatTokens.get("tokens").get(i).asInt(), sent[i], "token " + i);
        }
        server.awaitIdle();
    }

    private static Socket send(String body) throws Exception {
        Socket socket = new Socket("127.0.0.1", server.server.port());
        OutputStream out = socket.getOutputStream();
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + "Content-Length: " + bytes.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(bytes);
        out.flush();
        return socket;
    }

    @Test
    void disconnectsWhileRunningAndWhileQueuedFreeEverything() throws Exception {
        server.awaitIdle();
        Map<String, Double> before = scrape();
        double idleUsage = model(before, "vllm:kv_cache_usage_perc");
        assertEquals(0.0, idleUsage, "nothing referenced while idle");
        String longStream = "{\"model\":\"demo\",\"stream\":true,\"max_tokens\":2000,\"ignore_eos\":true,"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"Write a very long story.\"}]}";
        String queued = "{\"model\":\"demo\",\"max_tokens\":50,"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"And a short one.\"}]}";
        try (Socket running = send(longStream)) {
            InputStream in = running.getInputStream();
            byte[] buf = new byte[512];
            int n = in.read(buf);
            assertTrue(new String(buf, 0, n, StandardCharsets.US_ASCII).startsWith("HTTP/1.1 200"));
            await(() -> server.engine.stats().running() == 1 && server.engine.stats().kvBlocksUsed() > 0,
                    "the stream to run");
            try (Socket waiting = send(queued)) {
                await(() -> server.engine.stats().waiting() == 1, "the second request to queue behind the first");
                Map<String, Double> busy = scrape();
                assertEquals(1.0, model(busy, "vllm:num_requests_running"));
                assertEquals(1.0, model(busy, "vllm:num_requests_waiting"));
                assertTrue(model(busy, "vllm:kv_cache_usage_perc") > idleUsage);
            }
            await(() -> server.engine.stats().waiting() == 0, "the queued request to leave on disconnect");
            assertEquals(1, server.engine.stats().running(), "the stream still runs");
        }
        server.awaitIdle();
        Map<String, Double> after = scrape();
        assertEquals(0.0, model(after, "vllm:num_requests_running"));
        assertEquals(0.0, model(after, "vllm:num_requests_waiting"));
        assertEquals(idleUsage, model(after, "vllm:kv_cache_usage_perc"));
        await(() -> {
            try {
                Map<String, Double> s = scrape();
                return value(s, "vllm:request_success_total", "finished_reason=\"abort\"")
                        - value(before, "vllm:request_success_total", "finished_reason=\"abort\"") == 2.0;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }, "two aborted requests in vllm:request_success_total");
        assertTrue(model(after, "vllm:generation_tokens_total") - model(before, "vllm:generation_tokens_total") < 2000,
                "the stream was cut short");
    }

    @Test
    void metricsAgreeWithTheTraffic() throws Exception {
        server.awaitIdle();
        Map<String, Double> before = scrape();
        long prompt = 0;
        long completion = 0;
        long cached = 0;
        int requests = 0;
        String system = "You are a field guide to birds of prey. Answer in one short sentence, with care.";
        for (String q : new String[] {"Falcons?", "Hawks?", "Eagles?"}) {
            JsonNode r = post("/v1/chat/completions", JSON.writeValueAsString(Map.of("model", "demo",
                    "max_tokens", 5, "ignore_eos", true, "chat_template_kwargs", Map.of("thinking", false),
                    "messages", java.util.List.of(Map.of("role", "system", "content", system),
                            Map.of("role", "user", "content", q)))));
            JsonNode u = r.get("usage");
            assertEquals("length", r.get("choices").get(0).get("finish_reason").asText());
            prompt += u.get("prompt_tokens").asLong();
            completion += u.get("completion_tokens").asLong();
            cached += u.path("prompt_tokens_details").path("cached_tokens").asLong();
            requests++;
        }
        JsonNode c = post("/v1/completions", "{\"model\":\"demo\",\"prompt\":\"Kestrels hover\",\"max_tokens\":5,"
                + "\"ignore_eos\":true}");
        prompt += c.get("usage").get("prompt_tokens").asLong();
        completion += c.get("usage").get("completion_tokens").asLong();
        requests++;
        assertEquals(5L * requests, completion);
        assertTrue(cached > 0, "the shared system prompt was never served from the prefix cache");
        server.awaitIdle();

        Map<String, Double> after = scrape();
        java.util.function.ToDoubleFunction<String> delta = name -> model(after, name) - model(before, name);
        assertEquals(prompt, delta.applyAsDouble("vllm:prompt_tokens_total"));
        assertEquals(completion, delta.applyAsDouble("vllm:generation_tokens_total"));
        assertEquals(prompt, delta.applyAsDouble("vllm:prefix_cache_queries_total"));
        assertEquals(cached, delta.applyAsDouble("vllm:prefix_cache_hits_total"));
        assertEquals(requests, value(after, "vllm:request_success_total", "finished_reason=\"length\"")
                - value(before, "vllm:request_success_total", "finished_reason=\"length\""));
        assertEquals(requests, delta.applyAsDouble("vllm:e2e_request_latency_seconds_count"));
        assertEquals(requests, delta.applyAsDouble("vllm:time_to_first_token_seconds_count"));
        assertEquals(requests, delta.applyAsDouble("vllm:request_queue_time_seconds_count"));
        assertEquals(completion - requests, delta.applyAsDouble("vllm:inter_token_latency_seconds_count"));
        assertEquals(prompt, delta.applyAsDouble("vllm:request_prompt_tokens_sum"));
        assertEquals(completion, delta.applyAsDouble("vllm:request_generation_tokens_sum"));
        // every step fed the uncached prompt tokens and each generated token but the last
        assertEquals(prompt - cached + completion - requests, delta.applyAsDouble("vllm:iteration_tokens_sum"));
        assertTrue(delta.applyAsDouble("vllm:iteration_tokens_count") >= completion - requests);
        assertEquals(0.0, model(after, "vllm:num_preemptions_total"));
        assertEquals(0.0, model(after, "vllm:num_requests_running"));
        assertEquals(0.0, model(after, "vllm:num_requests_waiting"));
        assertEquals(0.0, model(after, "vllm:kv_cache_usage_perc"));
        assertTrue(after.keySet().stream().anyMatch(k -> k.startsWith("jvm_memory_used_bytes")), "JVM metrics");
    }

    @Test
    void theBackendInfoGaugeNamesThreadsAndKernels() throws Exception {
        Map<String, Double> samples = scrape();
        String kernels = "vector-api-" + jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.vectorBitSize() + "bit";
        java.util.List<String> info = samples.keySet().stream().filter(k -> k.startsWith("peregrine:backend_info{")).toList();
        assertEquals(1, info.size(), "one backend info series: " + info);
        String series = info.getFirst();
        assertTrue(series.contains("backend=\"cpu\"") && series.contains("threads=\"" + RealEngineServer.THREADS + "\"")
                && series.contains("kernels=\"" + kernels + "\""), series);
        assertEquals(1.0, samples.get(series));
    }
}
