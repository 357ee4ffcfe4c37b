package io.peregrine.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

class GeometriesTest {

    @Test
    void warpPerRowProductsCoverEveryRow() {
        for (int rows : new int[] {1, 7, 8, 9, 576, 7168, 163_840}) {
            LaunchGeometry g = Geometries.bf16Gemv(rows);
            long covered = g.blocks() * g.block() / 32 * Geometries.GEMV_ROWS_PER_WARP;
            assertTrue(covered >= rows && covered < rows + Geometries.GEMV_ROWS_PER_BLOCK, rows + " rows, " + covered + " covered");
        }
        LaunchGeometry t = Geometries.bf16GemvTransposed(512);
        assertTrue(t.blocks() * t.block() * 2 >= 512);
    }

    @Test
    void mmaTilesCoverRowsAndTokens() {
        LaunchGeometry g = Geometries.gemmMma(7168, 1000);
        assertEquals(112, g.gridX());
        assertEquals(16, g.gridY());
        assertEquals(128, g.block());
    }

    @Test
    void groupedDecodeGemvIsSizedForTheWorstRouting() {
        // K2.5 gate||up for a batch of 4: at most 32 distinct experts, one grid row each
        LaunchGeometry g = Geometries.int4GroupedGemv(4096, 4, 8, 384);
        assertEquals(128, g.gridX());  // 4096 rows, 4 per warp, 8 warps per block
        assertEquals(32, g.gridY());
        assertEquals(384, Geometries.int4GroupedGemv(4096, 256, 8, 384).gridY());
    }

    @Test
    void routerAndPermuteKeepTheirScoresInSharedMemory() {
        assertEquals(2 * 384 * 4, Geometries.router(3, 384).sharedBytes());
        assertEquals(3, Geometries.router(3, 384).gridX());
        assertThrows(IllegalArgumentException.class, () -> Geometries.router(1, 10_000));
    }

    @Test
    void mlaDecodeSplitsFillTheChipAndCoverTheCapacity() {
        Random rnd = new Random(5);
        for (int trial = 0; trial < 500; trial++) {
            int heads = 1 + rnd.nextInt(128);
            int batch = 1 + rnd.nextInt(64);
            int cap = 1 + rnd.nextInt(300_000);
            int sms = 1 + rnd.nextInt(200);
            Geometries.MlaDecodePlan p = Geometries.mlaDecode(heads, batch, cap, sms);
            assertEquals(0, p.splitLen() % Geometries.MLA_TILE, "split length is whole tiles");
            assertTrue((long) p.splits() * p.splitLen() >= cap, "splits cover the capacity");
            assertTrue((long) (p.splits() - 1) * p.splitLen() < cap, "no split is wholly past the capacity");
            assertEquals(p.splits(), p.partial().gridY());
            assertEquals(batch, p.partial().gridZ());
            assertTrue(p.partial().gridX() * Geometries.MLA_HEADS_PER_BLOCK >= heads);
            assertEquals(heads, p.combine().gridX());
        }
        // K2.5, one sequence of 8192 on an H200 (132 SMs): 33 splits wanted (two blocks per SM), rounded to whole
        // tiles that is 32 splits of 256 positions, 8 head blocks x 32 = 256 blocks
        Geometries.MlaDecodePlan k25 = Geometries.mlaDecode(64, 1, 8192, 132);
        assertEquals(32, k25.splits());
        assertEquals(256, k25.splitLen());
        assertEquals(64L * 32 * 512, k25.partialFloats(1, 64));
    }

    @Test
    void tensorCoreMlaPlanTakesSixteenHeadsPerBlock() {
        // 4 head blocks for K2.5: 66 splits wanted, whole 16-slot tiles make 64 splits of 128
        Geometries.MlaDecodePlan p = Geometries.mlaDecodeMma(64, 1, 8192, 132);
        assertTrue(p.tensorCores());
        assertEquals(16, p.headsPerBlock());
        assertEquals(4, p.partial().gridX());
        assertEquals(128, p.partial().block());
        assertEquals(64, p.splits());
        assertEquals(128, p.splitLen());
        assertEquals(false, Geometries.mlaDecode(64, 1, 8192, 132).tensorCores());
    }

    @Test
    void impossibleShapesAreRefusedBeforeTheyReachTheDevice() {
        assertThrows(IllegalArgumentException.class, () -> new LaunchGeometry(1, 1, 1, 48, 0));
        assertThrows(IllegalArgumentException.class, () -> new LaunchGeometry(1, 1, 1, 2048, 0));
        assertThrows(IllegalArgumentException.class, () -> new LaunchGeometry(0, 1, 1, 32, 0));
        assertThrows(IllegalArgumentException.class, () -> new LaunchGeometry(1, 70_000, 1, 32, 0));
        assertThrows(IllegalArgumentException.class, () -> new LaunchGeometry(1, 1, 1, 32, 64 * 1024));
        assertThrows(IllegalArgumentException.class, () -> Geometries.mlaDecode(64, 0, 10, 132));
    }
}
