package io.peregrine.server.bench;

import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * The benchmark's numbers, with vLLM benchmark_serving's definitions (see docs/performance.md, "Serving").
 * Only requests without a fault count as completed or failed; faults are tallied in {@code faults}.
 *
 * @param durationSeconds from the first request sent to the last one finished
 * @param faults          per fault kind (not NONE): how many were sent and how many did not play out as expected
 * @param errors          distinct error messages of failed requests (normal or fault), with counts
 */
public record BenchResult(
        double durationSeconds,
        int completed,
        int failed,
        long totalInputTokens,
        long totalOutputTokens,
        double requestThroughput,
        double inputThroughput,
        double outputThroughput,
        double totalTokenThroughput,
        Distribution ttftMs,
        Distribution tpotMs,
        Distribution itlMs,
        Distribution e2elMs,
        Map<Fault, FaultTally> faults,
        List<ErrorCount> errors) {

    public record FaultTally(int sent, int unexpected) {}

    public record ErrorCount(String message, int count) {}

    public BenchResult {
        // Enum order, so tables list the faults the same way every run.
        EnumMap<Fault, FaultTally> ordered = new EnumMap<>(Fault.class);
        ordered.putAll(faults);
        faults = Collections.unmodifiableMap(ordered);
        errors = List.copyOf(errors);
    }

    /** Failed normal requests plus faults that did not play out as expected. */
    public int unexpectedFailures() {
        return failed + faults.values().stream().mapToInt(FaultTally::unexpected).sum();
    }
}
