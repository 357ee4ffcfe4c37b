package io.peregrine.server.bench;

import java.util.Arrays;

/**
 * Summary of one latency metric in milliseconds, computed as numpy does in vLLM's benchmark_serving: population
 * standard deviation, percentiles by linear interpolation between closest ranks. An empty sample gives zeros
 * (vLLM reports 0 for, say, TPOT when no request produced two tokens).
 */
public record Distribution(int count, double mean, double median, double std, double p90, double p99) {

    public static Distribution ofMillis(double[] millis) {
        int n = millis.length;
        if (n == 0) {
            return new Distribution(0, 0, 0, 0, 0, 0);
        }
        double[] x = millis.clone();
        Arrays.sort(x);
        double sum = 0;
        for (double v : x) {
            sum += v;
        }
        double mean = sum / n;
        double sq = 0;
        for (double v : x) {
            sq += (v - mean) * (v - mean);
        }
        return new Distribution(n, mean, percentile(x, 50), Math.sqrt(sq / n), percentile(x, 90), percentile(x, 99));
    }

    /** numpy.percentile's default ("linear") method on sorted data. */
    static double percentile(double[] sorted, double p) {
        double h = (sorted.length - 1) * p / 100.0;
        int lo = (int) Math.floor(h);
        int hi = Math.min(lo + 1, sorted.length - 1);
        return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
    }
}
