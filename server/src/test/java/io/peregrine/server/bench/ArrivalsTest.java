package io.peregrine.server.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class ArrivalsTest {

    @Test
    void sameSeedSameScheduleOtherSeedOtherSchedule() {
        long[] a = Arrivals.offsetsNanos(500, 20, 42);
        assertArrayEquals(a, Arrivals.offsetsNanos(500, 20, 42));
        assertFalse(Arrays.equals(a, Arrivals.offsetsNanos(500, 20, 43)));
        for (int i = 1; i < a.length; i++) {
            assertTrue(a[i] >= a[i - 1], "offsets never go back");
        }
        assertTrue(a[0] > 0, "the first request also waits one gap, as in vLLM");
    }

    @Test
    void gapsAreExponentialWithMeanOneOverRate() {
        int n = 50_000;
        double rate = 8;
        long[] a = Arrivals.offsetsNanos(n, rate, 1);
        double[] gaps = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++) {
            gaps[i] = (a[i] - (i == 0 ? 0 : a[i - 1])) / 1e9;
            sum += gaps[i];
        }
        double mean = sum / n;
        double var = 0;
        int underMean = 0;
        for (double g : gaps) {
            var += (g - mean) * (g - mean);
            underMean += g < 1 / rate ? 1 : 0;
        }
        double cv = Math.sqrt(var / n) / mean;
        // Standard error of the mean is 1/rate/sqrt(n), about 0.45 %: 2 % is over four of them.
        assertEquals(1 / rate, mean, 0.02 / rate);
        assertEquals(1.0, cv, 0.03, "exponential gaps have a coefficient of variation of 1");
        assertEquals(1 - Math.exp(-1), (double) underMean / n, 0.01, "P(gap < mean) of an exponential");
    }

    @Test
    void burstinessShapesTheGapsAndKeepsTheRate() {
        // Gamma gaps with shape b and mean 1/rate have a coefficient of variation of 1/sqrt(b).
        for (double b : new double[] {0.25, 0.5, 2, 4}) {
            int n = 50_000;
            long[] a = Arrivals.offsetsNanos(n, 10, b, 11);
            assertArrayEquals(a, Arrivals.offsetsNanos(n, 10, b, 11));
            double sum = 0;
            double sq = 0;
            for (int i = 0; i < n; i++) {
                double g = (a[i] - (i == 0 ? 0 : a[i - 1])) / 1e9;
                sum += g;
                sq += g * g;
            }
            double mean = sum / n;
            double cv = Math.sqrt(sq / n - mean * mean) / mean;
            assertEquals(0.1, mean, 0.003, "mean gap at burstiness " + b);
            assertEquals(1 / Math.sqrt(b), cv, 0.05 / Math.sqrt(b), "CV at burstiness " + b);
        }
        assertThrows(IllegalArgumentException.class, () -> Arrivals.offsetsNanos(3, 1, 0, 0));
    }

    @Test
    void infiniteRateSendsAllAtOnceAndBadRatesAreRefused() {
        assertArrayEquals(new long[3], Arrivals.offsetsNanos(3, Double.POSITIVE_INFINITY, 0));
        assertThrows(IllegalArgumentException.class, () -> Arrivals.offsetsNanos(3, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> Arrivals.offsetsNanos(3, Double.NaN, 0));
    }

    @Test
    void faultPlanIsSeededAndFollowsTheRates() {
        Fault[] plan = Fault.plan(10_000, 0.1, 0.2, 0.05, 3);
        assertArrayEquals(plan, Fault.plan(10_000, 0.1, 0.2, 0.05, 3));
        long disconnects = Arrays.stream(plan).filter(f -> f == Fault.DISCONNECT).count();
        long malformed = Arrays.stream(plan).filter(f -> f == Fault.MALFORMED).count();
        long slow = Arrays.stream(plan).filter(f -> f == Fault.SLOW_READER).count();
        assertEquals(1000, disconnects, 100);
        assertEquals(2000, malformed, 130);
        assertEquals(500, slow, 70);
        assertThrows(IllegalArgumentException.class, () -> Fault.plan(1, 0.6, 0.6, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> Fault.plan(1, -0.1, 0, 0, 0));
    }
}
