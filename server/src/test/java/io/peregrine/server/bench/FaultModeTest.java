package io.peregrine.server.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.server.cli.BenchCommand;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * Fault mode against our server over an engine that paces its tokens: a healthy server passes the idle check
 * after disconnects, broken requests and slow readers; an engine that leaks aborted requests fails it.
 */
class FaultModeTest {

    static BenchOptions faults(URI base, Duration idleTimeout) {
        return new BenchOptions(base, Endpoint.CHAT, null, null, 8, Double.POSITIVE_INFINITY, 1, 7, true, false, 0, 64,
                0.25, 0.2, 0.15, Duration.ofMillis(300), Duration.ofSeconds(20), true, idleTimeout, 0, "/metrics");
    }

    @Test
    void healthyServerPassesTheIdleCheck() throws Exception {
        try (PacedServer server = new PacedServer(5, false)) {
            List<BenchPrompt> prompts = RandomPrompts.generate(40, 8, 20, 0, 7);
            StringWriter progress = new StringWriter();
            BenchRunner.Report report = BenchRunner.run(faults(server.baseUrl(), Duration.ofSeconds(5)), prompts,
                    new PrintWriter(progress), Duration.ofMillis(100), false);
            BenchResult r = report.result();
            assertEquals(0, r.unexpectedFailures(), () -> ResultReport.table(report));
            assertTrue(r.faults().get(Fault.DISCONNECT).sent() > 0, "the plan has disconnects");
            assertTrue(r.faults().get(Fault.MALFORMED).sent() > 0, "the plan has broken requests");
            assertTrue(r.faults().get(Fault.SLOW_READER).sent() > 0, "the plan has slow readers");
            int faults = r.faults().values().stream().mapToInt(BenchResult.FaultTally::sent).sum();
            assertEquals(40 - faults, r.completed());
            assertEquals(20L * r.completed(), r.totalOutputTokens(), "usage.completion_tokens of full-length answers");
            assertTrue(server.engine.aborted.get() > 0, "hang-ups aborted requests in the engine");
            assertNotNull(report.idle());
            assertTrue(report.idle().idle(), report.idle().toString());
            assertTrue(report.passed(true));
            assertTrue(progress.toString().contains("/40 requests"), progress.toString());
            assertTrue(ResultReport.table(report).contains("IDLE after"));
        }
    }

    @Test
    void leakedRequestFailsTheIdleCheck() throws Exception {
        try (PacedServer server = new PacedServer(5, true)) {
            List<BenchPrompt> prompts = RandomPrompts.generate(16, 8, 20, 0, 7);
            BenchRunner.Report report = BenchRunner.run(faults(server.baseUrl(), Duration.ofMillis(500)), prompts,
                    new PrintWriter(new StringWriter()), Duration.ofSeconds(1), false);
            assertTrue(server.engine.aborted.get() > 0, "some requests were aborted, and leaked");
            assertFalse(report.idle().idle());
            assertEquals(server.engine.aborted.get(), report.idle().after().running());
            assertTrue(report.idle().problem().contains("vllm:num_requests_running"), report.idle().problem());
            assertTrue(report.idle().problem().contains("vllm:kv_cache_usage_perc"), report.idle().problem());
            assertFalse(report.passed(false));
        }
    }

    @Test
    void commandExitsNonZeroLoudlyOnALeak() throws Exception {
        try (PacedServer server = new PacedServer(5, true)) {
            StringWriter out = new StringWriter();
            StringWriter err = new StringWriter();
            CommandLine cl = new CommandLine(new BenchCommand());
            cl.setOut(new PrintWriter(out, true));
            cl.setErr(new PrintWriter(err, true));
            int exit = cl.execute("--base-url", server.baseUrl().toString(), "--num-prompts", "12",
                    "--random-input-len", "8", "--random-output-len", "20", "--max-concurrency", "4",
                    "--disconnect-rate", "0.5", "--idle-timeout", "0.5", "--progress-interval", "1");
            assertEquals(1, exit, err.toString());
            assertTrue(err.toString().contains("FAILED: the server did not return to idle"), err.toString());
            assertTrue(out.toString().contains("NOT IDLE"), out.toString());
        }
    }

    @Test
    void commandPassesOnAHealthyServerAndWritesJson() throws Exception {
        try (PacedServer server = new PacedServer(2, false)) {
            java.nio.file.Path json = java.nio.file.Files.createTempFile("bench", ".json");
            StringWriter out = new StringWriter();
            StringWriter err = new StringWriter();
            CommandLine cl = new CommandLine(new BenchCommand());
            cl.setOut(new PrintWriter(out, true));
            cl.setErr(new PrintWriter(err, true));
            int exit = cl.execute("--base-url", server.baseUrl().toString(), "--num-prompts", "12",
                    "--endpoint", "completions", "--random-input-len", "8", "--random-output-len", "10",
                    "--max-concurrency", "4", "--request-rate", "200", "--disconnect-rate", "0.25",
                    "--malformed-rate", "0.25", "--fail-on-errors", "--result-json", json.toString());
            assertEquals(0, exit, out + "\n" + err);
            var node = io.peregrine.api.json.Json.newMapper().readTree(json.toFile());
            assertTrue(node.path("idle_check").path("idle").asBoolean(), node.toString());
            assertEquals(12, node.path("num_prompts").asInt());
            assertEquals(10L * node.path("completed").asInt(), node.path("total_output_tokens").asLong());
            assertTrue(node.has("p90_ttft_ms") && node.has("median_itl_ms") && node.has("mean_tpot_ms"));
            java.nio.file.Files.delete(json);
        }
    }
}
