package io.peregrine.kernels.check;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The synthetic decode sizes itself to the device memory left after the checks: its byte count is the K2.5 layer
 * (≈9.8 GB with all 384 experts) and it runs as many of the asked layers as fit.
 */
class DecodeSizingTest {
    private static final long GIB = 1L << 30;

    @Test
    void aK25LayerIsAboutTenGigabytesAndSixOfThemAboutSixtyFour() {
        long one = SyntheticDecode.bytesNeeded(1, 8, 4096, 132);
        long perLayer = SyntheticDecode.bytesNeeded(2, 8, 4096, 132) - one;
        assertTrue(perLayer > 9.6e9 && perLayer < 10.0e9, "per layer " + perLayer);
        long six = SyntheticDecode.bytesNeeded(6, 8, 4096, 132);
        assertTrue(six > 62e9 && six < 66e9, "six layers " + six);
        // embedding + lm_head (2 × 2.35 GB) and the activations are the rest
        assertTrue(one - perLayer > 4.6e9 && one - perLayer < 5.0e9, "fixed " + (one - perLayer));
    }

    @Test
    void theDecodeRunsTheLayersThatFitTheFreeMemory() {
        assertEquals(6, GpuCheck.decodeLayersThatFit(78 * GIB, 6, 8, 4096, 132), "an H100 with the checks' buffers freed");
        assertEquals(6, GpuCheck.decodeLayersThatFit(139 * GIB, 6, 8, 4096, 132), "an H200");
        // an H100 still holding ~20 GiB of earlier buffers would have failed half-way; now it runs fewer layers
        int fit = GpuCheck.decodeLayersThatFit(58 * GIB, 6, 8, 4096, 132);
        assertEquals(5, fit);
        assertTrue(SyntheticDecode.bytesNeeded(fit, 8, 4096, 132) <= 58 * GIB - GpuCheck.DECODE_RESERVE);
        assertEquals(0, GpuCheck.decodeLayersThatFit(6 * GIB, 6, 8, 4096, 132));
    }
}
