package io.peregrine.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.engine.runtime.FinishReason;
import io.peregrine.server.fakes.FakeEngine.Script;
import io.peregrine.server.fakes.TestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * {@code docs/grafana/peregrine.json} charts only what the server exports: every PromQL query in it (panels and
 * template variables) names metrics found in a real {@code /metrics} scrape, parsed as Prometheus text, and the
 * panels vLLM's published dashboard has are all there.
 */
class GrafanaDashboardTest {
    private static final Path DASHBOARD = Path.of(System.getProperty("peregrine.testdata", "../testdata"))
            .resolveSibling("docs").resolve("grafana").resolve("peregrine.json");
    // Identifiers not preceded by a name character, digit, dot or '$' (numbers such as 1e9, Grafana variables).
    private static final Pattern IDENT = Pattern.compile("(?<![\\w.:$])[a-zA-Z_:][a-zA-Z0-9_:]*");
    private static final Set<String> KEYWORDS = Set.of("by", "without", "on", "ignoring", "group_left", "group_right",
            "bool", "and", "or", "unless", "offset", "inf", "nan", "le");

    /** The metric names a PromQL expression selects (functions, keywords, labels and variables removed). */
    static Set<String> metricNames(String expr) {
        String s = expr.replaceAll("\"(\\\\.|[^\"\\\\])*\"", "\"\"")        // string literals
                .replaceAll("\\$\\{[^}]*}", "")                              // ${var}
                .replaceAll("\\$\\w+", "")                                   // $var, $__rate_interval
                .replaceAll("\\{[^}]*}", "")                                 // label matchers
                .replaceAll("\\[[^]]*]", "")                                 // ranges
                .replaceAll("\\b(by|without|on|ignoring|group_left|group_right)\\s*\\([^)]*\\)", ""); // grouping
        Set<String> names = new LinkedHashSet<>();
        Matcher m = IDENT.matcher(s);
        while (m.find()) {
            String id = m.group();
            String rest = s.substring(m.end()).stripLeading();
            if (!rest.startsWith("(") && !KEYWORDS.contains(id)) {
                names.add(id);
            }
        }
        return names;
    }

    private static List<String> queries(JsonNode dashboard) {
        List<String> out = new ArrayList<>();
        for (JsonNode panel : dashboard.path("panels")) {
            for (JsonNode target : panel.path("targets")) {
                out.add(target.path("expr").asText());
            }
        }
        for (JsonNode v : dashboard.path("templating").path("list")) {
            if (v.path("type").asText().equals("query")) {
                String q = v.path("query").isObject() ? v.path("query").path("query").asText() : v.path("query").asText();
                // label_values(metric, label): the metric is the first argument.
                Matcher lv = Pattern.compile("label_values\\(\\s*([^,)]+)").matcher(q);
                assertTrue(lv.find(), "template query " + q);
                out.add(lv.group(1));
            }
        }
        return out;
    }

    @Test
    void everyQueryNamesAnExportedMetric() throws Exception {
        JsonNode dashboard = new ObjectMapper().readTree(Files.readString(DASHBOARD));
        List<String> queries = queries(dashboard);
        assertTrue(queries.size() > 30, "queries found: " + queries.size());
        Set<String> exported;
        try (TestServer server = new TestServer()) {
            // One finished request, so the per-finish-reason series exist too.
            server.engine.script(r -> Script.of(FinishReason.STOP, "a", "b"));
            assertEquals(200, server.post("/v1/chat/completions",
                    "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}").statusCode());
            String scrape = server.get("/metrics").body();
            exported = MetricsScrapeTest.parse(scrape).keySet().stream()
                    .map(k -> k.contains("{") ? k.substring(0, k.indexOf('{')) : k)
                    .collect(Collectors.toCollection(TreeSet::new));
        }
        List<String> missing = new ArrayList<>();
        for (String q : queries) {
            Set<String> names = metricNames(q);
            assertFalse(names.isEmpty(), "a query that selects no metric: " + q);
            for (String n : names) {
                if (!exported.contains(n)) {
                    missing.add(n + " in " + q);
                }
            }
        }
        assertEquals(List.of(), missing, "queried but not exported");
    }

    @Test
    void hasTheVllmDashboardPanelsAndOurs() throws Exception {
        JsonNode dashboard = new ObjectMapper().readTree(Files.readString(DASHBOARD));
        Set<String> titles = new TreeSet<>();
        dashboard.path("panels").forEach(p -> titles.add(p.path("title").asText()));
        for (String t : List.of("E2E request latency", "Time to first token", "Inter-token latency", "Token throughput",
                "Scheduler state", "KV-cache usage", "Prefix-cache hit rate", "Preemptions", "Finished requests by reason",
                "Queue rejections", "Aborts and timeouts", "Structured-output mask time", "Vision-encoder time")) {
            assertTrue(titles.contains(t), "panel " + t + " in " + titles);
        }
        assertEquals("peregrine-overview", dashboard.path("uid").asText());
        // Importable anywhere: panels take the data source from the dashboard's own variable.
        dashboard.path("panels").forEach(p -> {
            if (!p.path("type").asText().equals("row")) {
                assertEquals("${datasource}", p.path("datasource").path("uid").asText(), p.path("title").asText());
            }
        });
    }

    @Test
    void theNameExtractionFindsMetricsAndSkipsTheRest() {
        assertEquals(Set.of("vllm:e2e_request_latency_seconds_bucket"), metricNames(
                "histogram_quantile(0.99, sum by (le) (rate(vllm:e2e_request_latency_seconds_bucket"
                        + "{model_name=\"$model_name\"}[$__rate_interval])))"));
        assertEquals(Set.of("vllm:prefix_cache_hits_total", "vllm:prefix_cache_queries_total"), metricNames(
                "rate(vllm:prefix_cache_hits_total{a=\"x\"}[5m]) / rate(vllm:prefix_cache_queries_total[5m]) * 1e2"));
        assertEquals(Set.of("vllm:request_success_total"), metricNames(
                "sum by (finished_reason) (rate(vllm:request_success_total{finished_reason=~\"abort|timeout\"}[1m]))"));
        assertEquals(Set.of("vllm:typo_total"), metricNames("rate(vllm:typo_total[5m])"), "a typo would be reported");
    }
}
