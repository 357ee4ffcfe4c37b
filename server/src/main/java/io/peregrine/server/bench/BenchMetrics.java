package io.peregrine.server.bench;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Turns request outcomes into a {@link BenchResult}, as vLLM's benchmark_serving calculate_metrics does. */
public final class BenchMetrics {
    private static final double NS_PER_MS = 1e6;

    private BenchMetrics() {}

    public static BenchResult compute(List<RequestOutcome> outcomes, long durationNanos) {
        if (durationNanos <= 0) {
            throw new IllegalArgumentException("benchmark duration must be > 0 ns, got " + durationNanos);
        }
        int completed = 0;
        int failed = 0;
        long input = 0;
        long output = 0;
        List<Double> ttft = new ArrayList<>();
        List<Double> tpot = new ArrayList<>();
        List<Double> itl = new ArrayList<>();
        List<Double> e2el = new ArrayList<>();
        Map<Fault, int[]> faults = new EnumMap<>(Fault.class);
        Map<String, Integer> errors = new LinkedHashMap<>();
        for (RequestOutcome o : outcomes) {
            if (!o.success()) {
                errors.merge(o.fault() == Fault.NONE ? o.error() : o.fault() + ": " + o.error(), 1, Integer::sum);
            }
            if (o.fault() != Fault.NONE) {
                int[] t = faults.computeIfAbsent(o.fault(), f -> new int[2]);
                t[0]++;
                t[1] += o.success() ? 0 : 1;
                continue;
            }
            if (!o.success()) {
                failed++;
                continue;
            }
            completed++;
            input += o.promptTokens();
            output += o.outputTokens();
            ttft.add(o.ttftNanos() / NS_PER_MS);
            e2el.add(o.latencyNanos() / NS_PER_MS);
            // TPOT excludes the first token; requests with one token have none (vLLM leaves them out of TPOT).
            if (o.outputTokens() > 1) {
                tpot.add((o.latencyNanos() - o.ttftNanos()) / NS_PER_MS / (o.outputTokens() - 1));
            }
            for (long gap : o.itlNanos()) {
                itl.add(gap / NS_PER_MS);
            }
        }
        double seconds = durationNanos / 1e9;
        Map<Fault, BenchResult.FaultTally> tallies = new EnumMap<>(Fault.class);
        faults.forEach((f, t) -> tallies.put(f, new BenchResult.FaultTally(t[0], t[1])));
        List<BenchResult.ErrorCount> errorList = errors.entrySet().stream()
                .map(e -> new BenchResult.ErrorCount(e.getKey(), e.getValue()))
                .sorted(Comparator.comparingInt(BenchResult.ErrorCount::count).reversed()).toList();
        return new BenchResult(seconds, completed, failed, input, output, completed / seconds, input / seconds,
                output / seconds, (input + output) / seconds, dist(ttft), dist(tpot), dist(itl), dist(e2el),
                tallies, errorList);
    }

    private static Distribution dist(List<Double> values) {
        return Distribution.ofMillis(values.stream().mapToDouble(Double::doubleValue).toArray());
    }
}
