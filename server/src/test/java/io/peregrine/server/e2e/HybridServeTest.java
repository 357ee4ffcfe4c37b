package io.peregrine.server.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.openai.models.chat.completions.ChatCompletionCreateParams;
import io.peregrine.engine.checkpoint.demo.DemoCheckpoint;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.model.ExpertPlacement;
import io.peregrine.engine.model.PlacementReport;
import io.peregrine.server.http.MetricsScrapeTest;
import io.peregrine.server.serving.ServingState;
import io.peregrine.server.wiring.RuntimeLoader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code serve --moe-placement cpu|auto} on the tiny demo checkpoint, end to end with two CPU backends standing in for
 * the GPU and the host (issue 20): the OpenAI SDK over loopback gets the plain server's greedy output, streaming and
 * not; /metrics counts the copies to and from the host experts; shutdown writes the routing histogram, and an
 * {@code auto} start under a small budget reads it and answers the same again.
 */
class HybridServeTest {
    private static final String MODEL = ServedRuntime.MODEL;

    @TempDir
    static Path dir;
    private static Path checkpoint;

    private final HttpClient http = HttpClient.newHttpClient();
    private ServedRuntime plain;
    private ServedRuntime hybrid;

    @BeforeAll
    static void writeCheckpoint() {
        checkpoint = DemoCheckpoint.ensure(dir.resolve("tiny"), "tiny");
    }

    @AfterEach
    void stop() {
        for (ServedRuntime s : new ServedRuntime[] {plain, hybrid}) {
            if (s != null && s.state().phase() != ServingState.Phase.DRAINING) {
                s.shutdown();
            }
        }
        http.close();
    }

    private static ServedRuntime serve(RuntimeLoader.MoeOptions moe) throws Exception {
        return ServedRuntime.start(checkpoint, 1, moe, RuntimeLoader.Parallel.SINGLE);
    }

    private Map<String, Double> metrics(ServedRuntime s) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(s.base() + "/metrics")).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode());
        return MetricsScrapeTest.parse(r.body());
    }

    private static double sample(Map<String, Double> samples, String name, String label) {
        return samples.entrySet().stream().filter(e -> e.getKey().startsWith(name + "{") && e.getKey().contains(label))
                .mapToDouble(Map.Entry::getValue).sum();
    }

    private static final List<String> PROMPTS = List.of("Name three raptors.",
            "What is 2 + 2? Answer briefly, then explain why.");

    @Test
    void expertsOnTheHostAnswerLikeThePlainServerAndTheHistogramFeedsAuto() throws Exception {
        Path histogram = dir.resolve("routing.txt");
        Files.deleteIfExists(histogram);
        plain = serve(RuntimeLoader.MoeOptions.GPU);
        hybrid = serve(new RuntimeLoader.MoeOptions(ExpertPlacement.Mode.CPU, 0, histogram));
        String[] expected = new String[PROMPTS.size()];
        for (int i = 0; i < PROMPTS.size(); i++) {
            ChatCompletionCreateParams p = ServedRuntime.greedy(PROMPTS.get(i), 24);
            expected[i] = ServedRuntime.text(plain.client().chat().completions().create(p));
            assertEquals(expected[i], ServedRuntime.text(hybrid.client().chat().completions().create(p)), "chat: " + PROMPTS.get(i));
            assertEquals(expected[i], ServedRuntime.streamed(hybrid.client(), p), "streaming: " + PROMPTS.get(i));
        }

        Map<String, Double> m = metrics(hybrid);
        double toHost = sample(m, "peregrine:moe_host_copy_bytes_total", "direction=\"to_host\"");
        double back = sample(m, "peregrine:moe_host_copy_bytes_total", "direction=\"to_primary\"");
        double rows = sample(m, "peregrine:moe_host_rows_total", "model_name=\"demo\"");
        assertTrue(rows > 0, m.toString());
        assertEquals(toHost, back);
        assertEquals(64 * 4 * rows, toHost, "a row of the tiny model is 64 fp32 values");
        assertTrue(sample(m, "peregrine:moe_hybrid_seconds_total", "part=\"host_experts\"") > 0, m.toString());
        assertTrue(sample(m, "peregrine:moe_host_expert_choices_total", "choice=\"host\"") > 0, m.toString());
        assertEquals(0, sample(metrics(plain), "peregrine:moe_host_rows_total", ""), "the plain server has none");

        hybrid.shutdown();
        assertTrue(Files.exists(histogram), "the routing histogram is written on shutdown");
        long[][] counts = ExpertPlacement.RoutingHistogram.read(histogram).counts();
        long perLayer = Arrays.stream(counts[1]).sum();
        assertEquals(0, Arrays.stream(counts[0]).sum(), "layer 0 is dense");
        for (int l = 1; l < counts.length; l++) {
            assertEquals(perLayer, Arrays.stream(counts[l]).sum(), "every MoE layer routed every row");
        }
        // rows of a chunk's expert with many of them may have been streamed instead of sent to the host
        assertTrue(perLayer >= (long) rows / (counts.length - 1), perLayer + " routed, " + rows + " on the host");
        assertEquals(0, perLayer % 2, "two experts per token");

        // a budget of the non-expert weights and three experts: auto keeps the three most routed on the "GPU"
        long budget;
        try (Checkpoint ck = Checkpoint.open(checkpoint)) {
            ExpertPlacement all = ExpertPlacement.host(ck.config().text());
            PlacementReport r = PlacementReport.of(all, ck, null);
            int experts = (counts.length - 1) * ck.config().text().nRoutedExperts();
            budget = r.primaryBytes() + 3 * (r.hostBytes() / experts);
        }
        hybrid = serve(new RuntimeLoader.MoeOptions(ExpertPlacement.Mode.AUTO, budget, histogram));
        for (int i = 0; i < PROMPTS.size(); i++) {
            assertEquals(expected[i], ServedRuntime.text(hybrid.client().chat().completions().create(ServedRuntime.greedy(PROMPTS.get(i), 24))));
        }
        hybrid.shutdown();
        long[][] both = ExpertPlacement.RoutingHistogram.read(histogram).counts();
        long second = Arrays.stream(both[1]).sum() - perLayer;
        assertTrue(second > 0, "the second run's counts are added to the first's");
        for (int l = 1; l < both.length; l++) {
            assertEquals(perLayer + second, Arrays.stream(both[l]).sum(), "layer " + l);
            for (int e = 0; e < both[l].length; e++) {
                assertTrue(both[l][e] >= counts[l][e], "layer " + l + " expert " + e);
            }
        }
    }

    @Test
    void autoWithoutABudgetAndABudgetTooSmallAreRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new RuntimeLoader.MoeOptions(ExpertPlacement.Mode.AUTO, 0, null));
        assertTrue(e.getMessage().contains("--moe-gpu-memory"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> serve(new RuntimeLoader.MoeOptions(
                ExpertPlacement.Mode.AUTO, 1000, null)));
        assertTrue(e.getMessage().contains("primary budget"), e.getMessage());
    }
}
