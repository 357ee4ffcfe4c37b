package io.peregrine.kernels.check;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.backend.cpu.CpuBackend;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The golden harness that {@code scripts/gpu-check.sh} runs on CudaBackend, run here on the CPU reference: it must pass
 * the reference backend (so a device failure is the device's), and its tolerance must bite.
 */
class GoldenTextCheckTest {
    static Path golden() {
        return Path.of(System.getProperty("peregrine.testdata", "../testdata")).resolve("golden");
    }

    @Test
    void theCpuBackendPassesEveryCase() {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        GoldenTextCheck g = new GoldenTextCheck(golden(), new PrintStream(log, true, StandardCharsets.UTF_8));
        try (CpuBackend cpu = new CpuBackend(2)) {
            g.run(cpu);
        }
        String text = log.toString(StandardCharsets.UTF_8);
        assertEquals(4, g.checks, text);
        assertEquals(0, g.failures, text);
        assertTrue(g.worstShare < 1, text);
    }

    @Test
    void theToleranceIsTheReadmes() {
        float[] ref = {10f, -3f, 0.5f};
        // max|logit| 10: the limit is min(1e-3, 1e-4 · 10) = 1e-3
        assertEquals(0.5, GoldenTextCheck.share(ref, new float[] {10f, -3f + 5e-4f, 0.5f}), 1e-3);
        assertTrue(GoldenTextCheck.share(ref, new float[] {10f, -3f, 0.5f + 2e-3f}) > 1);
        // max|logit| 1: the relative term rules, 1e-4
        assertTrue(GoldenTextCheck.share(new float[] {1f, 0f}, new float[] {1f, 2e-4f}) > 1);
        assertEquals(Double.POSITIVE_INFINITY, GoldenTextCheck.share(ref, new float[] {Float.NaN, -3f, 0.5f}));
        assertEquals(Double.POSITIVE_INFINITY, GoldenTextCheck.share(ref, new float[2]));
    }
}
