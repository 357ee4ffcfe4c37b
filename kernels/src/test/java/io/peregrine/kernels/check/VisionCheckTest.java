package io.peregrine.kernels.check;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.backend.cpu.CpuBackend;
import io.peregrine.engine.checkpoint.Tensor;
import io.peregrine.engine.vision.encoder.MoonVitEncoder;
import io.peregrine.engine.config.VisionConfig;
import io.peregrine.engine.vision.encoder.VisionEmbeddings;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The vision part of the device check, off the device: its synthetic weights load, its FLOP count, its golden half. */
class VisionCheckTest {

    @Test
    void syntheticWeightsHaveEveryTensorTheTowerLoads() {
        VisionConfig small = VisionConfig.moonVit(14, 64, 2, 2, 100, 64, 64, 4, 2, 96, 1e-5);
        try (Arena arena = Arena.ofShared(); CpuBackend cpu = new CpuBackend(1)) {
            Map<String, Tensor> w = VisionCheck.syntheticWeights(small, arena, 3);
            try (MoonVitEncoder tower = MoonVitEncoder.load(small, w::get, cpu)) {
                VisionEmbeddings e = tower.encode(VisionCheck.noise(1, 4, 6, 1));
                assertEquals(6, e.tokens());
                assertEquals(96, e.hidden());
                for (float v : e.values()) {
                    assertTrue(Float.isFinite(v));
                }
            }
        }
    }

    @Test
    void flopsCountTheBlocksAttentionAndProjector() {
        VisionConfig c = VisionConfig.moonVit(14, 1152, 16, 27, 4304, 64, 64, 4, 2, 7168, 1e-5);
        double d = 1152;
        double blocks = 1024 * 27 * 2 * (4 * d * d + 2 * d * 4304);
        double attention = 27 * 4.0 * 1024 * 1024 * d;
        double embed = 1024 * 2 * 588 * d;
        double projector = 256 * 2 * (4608.0 * 4608 + 4608.0 * 7168);
        assertEquals(blocks + attention + embed + projector, VisionCheck.flops(c, 1024, 256), 1e3);
    }

    @Test
    void goldenHalfPassesOnTheCpuBackend() {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        VisionCheck v = new VisionCheck(Path.of(System.getProperty("peregrine.testdata", "../testdata")).resolve("golden"),
                new PrintStream(buf));
        try (CpuBackend cpu = new CpuBackend(2)) {
            v.golden(cpu, "fp32", VisionCheck.FP32_TOL, false);
            v.endToEnd(cpu);
        }
        assertEquals(0, v.failures, buf.toString());
        assertEquals(4, v.checks, buf.toString());
    }
}
