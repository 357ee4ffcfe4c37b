package io.peregrine.server.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The statistics on hand-made outcomes, against values numpy gives for the same samples. */
class BenchMetricsTest {
    private static final long MS = 1_000_000;

    private static RequestOutcome ok(int i, int prompt, int output, long ttftMs, long latencyMs, long... itlMs) {
        long[] itl = new long[itlMs.length];
        for (int k = 0; k < itl.length; k++) {
            itl[k] = itlMs[k] * MS;
        }
        return new RequestOutcome(i, Fault.NONE, true, prompt, output, ttftMs * MS, itl, latencyMs * MS, null);
    }

    @Test
    void vllmDefinitionsOnKnownSamples() {
        List<RequestOutcome> outcomes = List.of(
                ok(0, 10, 5, 100, 200, 10, 20, 30, 40),
                ok(1, 20, 1, 50, 50),
                ok(2, 30, 3, 150, 300, 60, 90),
                RequestOutcome.failed(3, Fault.NONE, "HTTP 500: boom"),
                RequestOutcome.faultPlayed(4, Fault.DISCONNECT),
                RequestOutcome.failed(5, Fault.MALFORMED, "answered HTTP/1.1 200 OK, expected 4xx"));
        BenchResult r = BenchMetrics.compute(outcomes, 2_000_000_000L);
        assertEquals(2.0, r.durationSeconds());
        assertEquals(3, r.completed());
        assertEquals(1, r.failed(), "faults are not failures of the measured load");
        assertEquals(60, r.totalInputTokens());
        assertEquals(9, r.totalOutputTokens());
        assertEquals(1.5, r.requestThroughput(), 1e-12);
        assertEquals(30.0, r.inputThroughput(), 1e-12);
        assertEquals(4.5, r.outputThroughput(), 1e-12);
        assertEquals(34.5, r.totalTokenThroughput(), 1e-12);
        // numpy: mean, median, std (ddof 0), percentile 90 and 99 (linear).
        expect(r.ttftMs(), 3, 100.0, 100.0, 40.824829046386306, 140.0, 149.0);
        expect(r.tpotMs(), 2, 50.0, 50.0, 25.0, 70.0, 74.5); // (200-100)/4 and (300-150)/2; the 1-token one has none
        expect(r.itlMs(), 6, 41.666666666666664, 35.0, 26.718699236469, 75.0, 88.5);
        expect(r.e2elMs(), 3, 183.33333333333334, 200.0, 102.74023338281629, 280.0, 298.0);
        assertEquals(new BenchResult.FaultTally(1, 0), r.faults().get(Fault.DISCONNECT));
        assertEquals(new BenchResult.FaultTally(1, 1), r.faults().get(Fault.MALFORMED));
        assertEquals(2, r.unexpectedFailures());
        assertEquals(List.of(new BenchResult.ErrorCount("HTTP 500: boom", 1),
                new BenchResult.ErrorCount("MALFORMED: answered HTTP/1.1 200 OK, expected 4xx", 1)), r.errors());
    }

    private static void expect(Distribution d, int n, double mean, double median, double std, double p90, double p99) {
        assertEquals(n, d.count());
        assertEquals(mean, d.mean(), 1e-9);
        assertEquals(median, d.median(), 1e-9);
        assertEquals(std, d.std(), 1e-9);
        assertEquals(p90, d.p90(), 1e-9);
        assertEquals(p99, d.p99(), 1e-9);
    }

    @Test
    void emptySamplesReportZerosAndOneSampleIsItsOwnPercentiles() {
        BenchResult r = BenchMetrics.compute(List.of(RequestOutcome.failed(0, Fault.NONE, "x")), 1_000_000_000L);
        assertEquals(new Distribution(0, 0, 0, 0, 0, 0), r.ttftMs());
        assertEquals(0.0, r.requestThroughput());
        assertEquals(new Distribution(1, 7, 7, 0, 7, 7), Distribution.ofMillis(new double[] {7}));
    }

    @Test
    void durationMustBePositive() {
        assertThrows(IllegalArgumentException.class, () -> BenchMetrics.compute(List.of(), 0));
    }
}
