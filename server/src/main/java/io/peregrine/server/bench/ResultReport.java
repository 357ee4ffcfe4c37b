package io.peregrine.server.bench;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Locale;
import java.util.Map;

/**
 * A run's report as a table for people and as JSON for tools. The JSON uses vLLM benchmark_serving's keys
 * ({@code request_throughput}, {@code mean_ttft_ms}, {@code p99_itl_ms}...) so existing comparison scripts read
 * it, plus {@code p90_*}, {@code input_throughput}, the fault tallies and the idle check.
 */
public final class ResultReport {
    private ResultReport() {}

    public static String table(BenchRunner.Report report) {
        BenchResult r = report.result();
        BenchOptions o = report.options();
        StringBuilder t = new StringBuilder();
        t.append("============ Serving Benchmark Result ============\n");
        row(t, "Endpoint", o.baseUrl() + o.endpoint().path());
        row(t, "Model", o.model());
        row(t, "Request rate (req/s)", Double.isInfinite(o.requestRate()) ? "inf" : num(o.requestRate()));
        row(t, "Burstiness", num(o.burstiness()) + (o.burstiness() == 1.0 ? " (Poisson)" : ""));
        row(t, "Max concurrency", o.maxConcurrency() == 0 ? "unlimited" : Integer.toString(o.maxConcurrency()));
        row(t, "Streaming", Boolean.toString(o.stream()));
        row(t, "Requests sent", Integer.toString(report.requests()));
        row(t, "Successful requests", Integer.toString(r.completed()));
        row(t, "Failed requests", Integer.toString(r.failed()));
        row(t, "Benchmark duration (s)", num(r.durationSeconds()));
        row(t, "Total input tokens", Long.toString(r.totalInputTokens()));
        row(t, "Total generated tokens", Long.toString(r.totalOutputTokens()));
        row(t, "Request throughput (req/s)", num(r.requestThroughput()));
        row(t, "Input token throughput (tok/s)", num(r.inputThroughput()));
        row(t, "Output token throughput (tok/s)", num(r.outputThroughput()));
        row(t, "Total token throughput (tok/s)", num(r.totalTokenThroughput()));
        t.append(String.format(Locale.ROOT, "%-26s %10s %10s %10s %10s %10s%n", "Latency (ms)", "mean", "median",
                "p90", "p99", "std"));
        dist(t, "Time to first token", r.ttftMs());
        dist(t, "Time per output token", r.tpotMs());
        dist(t, "Inter-token latency", r.itlMs());
        dist(t, "End-to-end latency", r.e2elMs());
        if (!r.faults().isEmpty()) {
            t.append("---------------------- Faults ----------------------\n");
            for (Map.Entry<Fault, BenchResult.FaultTally> f : r.faults().entrySet()) {
                row(t, f.getKey().name().toLowerCase(Locale.ROOT) + " (sent / unexpected)",
                        f.getValue().sent() + " / " + f.getValue().unexpected());
            }
        }
        if (!r.errors().isEmpty()) {
            t.append("---------------------- Errors ----------------------\n");
            r.errors().stream().limit(10).forEach(e -> t.append(String.format(Locale.ROOT, "%6d x %s%n", e.count(),
                    e.message())));
        }
        IdleCheck.Verdict idle = report.idle();
        if (idle != null) {
            t.append("-------------------- Idle check --------------------\n");
            row(t, "Before run", idle.before().toString());
            row(t, "After run", idle.after().toString());
            row(t, "Result", idle.idle() ? "IDLE after " + idle.waited().toMillis() + " ms"
                    : "NOT IDLE after " + idle.waited().toMillis() + " ms: " + idle.problem());
        }
        t.append("==================================================\n");
        return t.toString();
    }

    private static void row(StringBuilder t, String name, String value) {
        t.append(String.format(Locale.ROOT, "%-40s %s%n", name + ":", value));
    }

    private static void dist(StringBuilder t, String name, Distribution d) {
        t.append(String.format(Locale.ROOT, "%-26s %10.2f %10.2f %10.2f %10.2f %10.2f%n", name, d.mean(), d.median(),
                d.p90(), d.p99(), d.std()));
    }

    private static String num(double v) {
        return String.format(Locale.ROOT, "%.2f", v);
    }

    public static ObjectNode json(BenchRunner.Report report) {
        BenchResult r = report.result();
        BenchOptions o = report.options();
        ObjectNode j = JsonNodeFactory.instance.objectNode();
        j.put("base_url", o.baseUrl().toString());
        j.put("endpoint", o.endpoint().path());
        j.put("model_id", o.model());
        j.put("request_rate", Double.isInfinite(o.requestRate()) ? "inf" : Double.toString(o.requestRate()));
        j.put("burstiness", o.burstiness());
        j.put("max_concurrency", o.maxConcurrency() == 0 ? null : o.maxConcurrency());
        j.put("seed", o.seed());
        j.put("stream", o.stream());
        j.put("num_prompts", report.requests());
        j.put("duration", r.durationSeconds());
        j.put("completed", r.completed());
        j.put("failed", r.failed());
        j.put("total_input_tokens", r.totalInputTokens());
        j.put("total_output_tokens", r.totalOutputTokens());
        j.put("request_throughput", r.requestThroughput());
        j.put("input_throughput", r.inputThroughput());
        j.put("output_throughput", r.outputThroughput());
        j.put("total_token_throughput", r.totalTokenThroughput());
        dist(j, "ttft", r.ttftMs());
        dist(j, "tpot", r.tpotMs());
        dist(j, "itl", r.itlMs());
        dist(j, "e2el", r.e2elMs());
        ObjectNode faults = j.putObject("faults");
        r.faults().forEach((f, t) -> faults.putObject(f.name().toLowerCase(Locale.ROOT)).put("sent", t.sent())
                .put("unexpected", t.unexpected()));
        var errors = j.putArray("errors");
        r.errors().forEach(e -> errors.addObject().put("message", e.message()).put("count", e.count()));
        IdleCheck.Verdict idle = report.idle();
        if (idle != null) {
            ObjectNode c = j.putObject("idle_check");
            c.put("idle", idle.idle());
            c.put("waited_ms", idle.waited().toMillis());
            c.put("problem", idle.problem());
            load(c.putObject("before"), idle.before());
            load(c.putObject("after"), idle.after());
        }
        return j;
    }

    private static void dist(ObjectNode j, String name, Distribution d) {
        j.put("mean_" + name + "_ms", d.mean());
        j.put("median_" + name + "_ms", d.median());
        j.put("std_" + name + "_ms", d.std());
        j.put("p90_" + name + "_ms", d.p90());
        j.put("p99_" + name + "_ms", d.p99());
    }

    private static void load(ObjectNode j, ServerLoad l) {
        j.put("num_requests_running", l.running());
        j.put("num_requests_waiting", l.waiting());
        j.put("kv_cache_usage_perc", l.kvCacheUsage());
    }
}
