package io.peregrine.engine.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.testing.TestData;
import java.io.IOException;
import org.junit.jupiter.api.Test;

/** Parameter counts, bytes and KV cache size computed from a config alone. */
class ModelSizeTest {
    @Test
    void sizesOfTheRealK25() throws IOException {
        ModelSize size = ModelSize.of(CheckpointLayoutTest.realK25());
        // Spec §2: text ~1026.4 B total, ~32.86 B active (both embedding matrices included); MoonViT + projector ~0.47 B.
        assertEquals(1.0264e12, size.textParameters(), 0.0005e12);
        assertEquals(1.03e12, size.totalParameters(), 0.005e12);
        assertEquals(32.86e9, size.activeParameters(), 0.01e9);
        assertEquals(416.9e6 + 54.3e6, size.visionParameters(), 1e6);
        assertEquals(70_272, size.kvBytesPerToken());
        assertEquals(70_272L * 262_144, size.kvBytesPerSequence());
        // Spec §2: the 64 shards hold 554.3 GiB.
        assertEquals(554.3 * (1L << 30), size.totalBytes(), 0.05 * (1L << 30));
        assertTrue(size.bytesByDtype().get(DType.I32) > 480e9);
    }

    @Test
    void sizesOfTheGoldenTinyAddUpFromItsTensors() {
        try (Checkpoint ck = Checkpoint.open(TestData.tinyCheckpoint())) {
            ModelSize size = ModelSize.of(ck.config());
            long stored = ck.tensors().values().stream().mapToLong(t -> t.data().byteSize()).sum();
            assertEquals(stored, size.totalBytes());
            assertEquals((32 + 8) * 2 * 3, size.kvBytesPerToken());
            // 8 experts of 3 * 32 * 64 parameters in each of 2 MoE layers; top-2 of them are active.
            long routed = 2L * 8 * 3 * 32 * 64;
            assertEquals(size.textParameters() - routed + routed / 8 * 2, size.activeParameters());
        }
    }
}
