package io.peregrine.server.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;

/**
 * The benchmark against a scripted server with known timings: on a scripted clock every number is exact; in
 * real time token counts and throughput denominators are exact and each timing lies between what the script
 * guarantees and that plus scheduling slack.
 */
class ScriptedServerTest {
    // Loopback plus a 2-core machine shared with other builds: generous, but far below the scripted times.
    private static final double SLACK_MS = 80;

    private static BenchOptions options(URI base, Endpoint endpoint, boolean stream, int images) {
        return new BenchOptions(base, endpoint, null, "sk-test", 1, Double.POSITIVE_INFINITY, 1, 5, stream, true,
                images, 32, 0, 0, 0, Duration.ofSeconds(1), Duration.ofSeconds(20), false, Duration.ofSeconds(1), 0,
                "/metrics");
    }

    private static BenchRunner.Report run(BenchOptions o, int requests) throws Exception {
        return BenchRunner.run(o, RandomPrompts.generate(requests, 12, 4, 0, 5), new PrintWriter(new StringWriter()),
                Duration.ofSeconds(1), false);
    }

    /**
     * On the scripted clock every event is stamped with exactly its scripted time, so the whole pipeline (SSE
     * reading, which chunks count, TPOT, pooling, percentiles, duration) must give numpy's values to the bit.
     * Request k: first text after 100 + 20k ms, then gaps of 30, 40 + 10k and 50 ms, the usage chunk 5 ms later.
     */
    @Test
    void exactStatisticsOnTheScriptedClock() throws Exception {
        ScriptedClock clock = new ScriptedClock();
        try (ScriptedOpenAiServer server = new ScriptedOpenAiServer(k -> new ScriptedOpenAiServer.Timing(
                100 + 20L * k, new long[] {30, 40 + 10L * k, 50}, 5, 7), clock)) {
            BenchRunner.Report report = BenchRunner.run(options(server.baseUrl(), Endpoint.CHAT, true, 0),
                    RandomPrompts.generate(5, 12, 4, 0, 5), new PrintWriter(new StringWriter()),
                    Duration.ofSeconds(1), false, clock);
            BenchResult r = report.result();
            assertEquals(5, r.completed(), () -> ResultReport.table(report));
            // E2EL 225 + 30k ms, back to back: the clock moved 1425 ms in all.
            assertEquals(1.425, r.durationSeconds(), 1e-12);
            assertEquals(35, r.totalInputTokens());
            assertEquals(20, r.totalOutputTokens());
            assertEquals(5 / 1.425, r.requestThroughput(), 1e-9);
            assertEquals(35 / 1.425, r.inputThroughput(), 1e-9);
            assertEquals(20 / 1.425, r.outputThroughput(), 1e-9);
            assertEquals(55 / 1.425, r.totalTokenThroughput(), 1e-9);
            // numpy.mean, median, std, percentile(90), percentile(99) of the scripted samples.
            exact(r.ttftMs(), 5, 140.0, 140.0, 28.284271247461902, 172.0, 179.2);
            exact(r.tpotMs(), 5, 48.33333333333333, 48.333333333333336, 4.714045207910317, 53.666666666666664,
                    54.86666666666667);
            exact(r.itlMs(), 15, 46.666666666666664, 50.0, 14.907119849998598, 66.0, 78.6);
            exact(r.e2elMs(), 5, 285.0, 285.0, 42.42640687119285, 333.0, 343.8);
            var json = ResultReport.json(report);
            assertEquals(179.2, json.path("p99_ttft_ms").asDouble(), 1e-9);
            assertEquals(66.0, json.path("p90_itl_ms").asDouble(), 1e-9);
            assertEquals(5 / 1.425, json.path("request_throughput").asDouble(), 1e-9);
        }
    }

    private static void exact(Distribution d, int n, double mean, double median, double std, double p90,
                              double p99) {
        assertEquals(n, d.count());
        assertEquals(mean, d.mean(), 1e-9);
        assertEquals(median, d.median(), 1e-9);
        assertEquals(std, d.std(), 1e-9);
        assertEquals(p90, d.p90(), 1e-9);
        assertEquals(p99, d.p99(), 1e-9);
    }

    @Test
    void streamedChatTimingsFollowTheScript() throws Exception {
        try (ScriptedOpenAiServer server = new ScriptedOpenAiServer(120, 40, 4, 7)) {
            BenchRunner.Report report = run(options(server.baseUrl(), Endpoint.CHAT, true, 0), 4);
            BenchResult r = report.result();
            assertEquals("scripted-1", report.options().model(), "the model comes from GET /v1/models");
            assertEquals(4, r.completed(), () -> ResultReport.table(report));
            assertEquals(0, r.failed());
            assertEquals(28, r.totalInputTokens(), "usage.prompt_tokens, not the word count");
            assertEquals(16, r.totalOutputTokens());
            // Throughputs share one denominator, the run's duration: one request at a time, each >= 240 ms.
            assertTrue(r.durationSeconds() >= 4 * 0.240, "duration " + r.durationSeconds());
            assertEquals(4 / r.durationSeconds(), r.requestThroughput(), 1e-9);
            assertEquals(28 / r.durationSeconds(), r.inputThroughput(), 1e-9);
            assertEquals(16 / r.durationSeconds(), r.outputThroughput(), 1e-9);
            assertEquals(44 / r.durationSeconds(), r.totalTokenThroughput(), 1e-9);
            // The role-only chunk sent at once does not count as the first token.
            assertEquals(4, r.ttftMs().count());
            within(r.ttftMs().median(), 120, "TTFT");
            assertEquals(12, r.itlMs().count(), "3 gaps per 4-chunk answer; finish and usage chunks add none");
            within(r.itlMs().median(), 40, "ITL");
            within(r.tpotMs().median(), 40, "TPOT = (E2EL - TTFT) / (4 - 1)");
            within(r.e2elMs().median(), 240, "E2EL");
            for (JsonNode body : server.bodies) {
                assertEquals("scripted-1", body.path("model").asText());
                assertEquals(4, body.path("max_completion_tokens").asInt());
                assertTrue(body.path("stream_options").path("include_usage").asBoolean());
                assertTrue(body.path("ignore_eos").asBoolean());
                assertEquals(12, body.path("messages").get(0).path("content").asText().split(" ").length);
            }
        }
    }

    @Test
    void wholeCompletionsReportTtftAsTheLatency() throws Exception {
        try (ScriptedOpenAiServer server = new ScriptedOpenAiServer(60, 20, 3, 5)) {
            BenchResult r = run(options(server.baseUrl(), Endpoint.COMPLETIONS, false, 0), 3).result();
            assertEquals(3, r.completed());
            assertEquals(9, r.totalOutputTokens());
            assertEquals(r.ttftMs(), r.e2elMs());
            within(r.e2elMs().median(), 100, "E2EL");
            assertEquals(0, r.itlMs().count());
            JsonNode body = server.bodies.getFirst();
            assertEquals(4, body.path("max_tokens").asInt());
            assertFalse(body.path("stream").asBoolean());
            assertTrue(body.path("prompt").isTextual());
        }
    }

    @Test
    void imagesGoAsPngDataUrls() throws Exception {
        try (ScriptedOpenAiServer server = new ScriptedOpenAiServer(1, 1, 2, 5)) {
            assertEquals(2, run(options(server.baseUrl(), Endpoint.CHAT, true, 2), 2).result().completed());
            JsonNode parts = server.bodies.getFirst().path("messages").get(0).path("content");
            assertEquals(3, parts.size());
            assertEquals("text", parts.get(0).path("type").asText());
            String url = parts.get(1).path("image_url").path("url").asText();
            assertTrue(url.startsWith("data:image/png;base64,"));
            BufferedImage img = ImageIO.read(new ByteArrayInputStream(
                    Base64.getDecoder().decode(url.substring("data:image/png;base64,".length()))));
            assertEquals(32, img.getWidth());
            assertEquals(32, img.getHeight());
            assertFalse(url.equals(parts.get(2).path("image_url").path("url").asText()), "images differ");
            assertFalse(url.equals(server.bodies.get(1).path("messages").get(0).path("content").get(1)
                    .path("image_url").path("url").asText()), "images differ across requests");
        }
    }

    @Test
    void serverErrorsAreCountedWithTheirMessage() throws Exception {
        try (ScriptedOpenAiServer server = new ScriptedOpenAiServer(1, 1, 2, 5)) {
            server.failStatus = 503;
            BenchRunner.Report report = run(options(server.baseUrl(), Endpoint.CHAT, true, 0), 3);
            assertEquals(0, report.result().completed());
            assertEquals(3, report.result().failed());
            assertEquals(List.of(new BenchResult.ErrorCount("HTTP 503: scripted failure", 3)),
                    report.result().errors());
            assertNull(report.idle(), "no idle check unless asked");
            assertFalse(report.passed(true));
            assertTrue(report.passed(false));
        }
    }

    @Test
    void sameSeedSendsTheSameRequests() throws Exception {
        try (ScriptedOpenAiServer a = new ScriptedOpenAiServer(1, 1, 2, 5);
             ScriptedOpenAiServer b = new ScriptedOpenAiServer(1, 1, 2, 5)) {
            run(options(a.baseUrl(), Endpoint.CHAT, true, 0), 3);
            run(options(b.baseUrl(), Endpoint.CHAT, true, 0), 3);
            assertArrayEquals(a.bodies.stream().map(JsonNode::toString).sorted().toArray(),
                    b.bodies.stream().map(JsonNode::toString).sorted().toArray());
        }
    }

    private static void within(double measuredMs, double scriptedMs, String what) {
        // A chunk may land late but the next one on time, so one gap can come in slightly short of the script.
        assertTrue(measuredMs >= scriptedMs - 5 && measuredMs <= scriptedMs + SLACK_MS,
                what + " " + measuredMs + " ms, scripted " + scriptedMs + " ms");
    }
}
