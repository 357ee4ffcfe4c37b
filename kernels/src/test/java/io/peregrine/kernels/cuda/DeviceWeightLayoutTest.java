package io.peregrine.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.checkpoint.DType;
import io.peregrine.engine.checkpoint.Int4Group32;
import io.peregrine.engine.checkpoint.Tensor;
import io.peregrine.kernels.layout.Int4ExpertStack;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The device image of each weight kind, read back on the host, against the checkpoint's own plain layout. */
class DeviceWeightLayoutTest {

    static Int4Group32 randomInt4(Arena arena, Random rnd, int rows, int cols) {
        MemorySegment p = arena.allocate(4L * rows * cols / 8);
        MemorySegment s = arena.allocate(2L * rows * cols / 32);
        for (long i = 0; i < (long) rows * cols / 8; i++) {
            p.setAtIndex(Tensor.I32, i, rnd.nextInt());
        }
        for (long i = 0; i < (long) rows * cols / 32; i++) {
            s.setAtIndex(Tensor.BF16, i, (short) (Float.floatToRawIntBits((float) (0.01 + rnd.nextDouble())) >>> 16));
        }
        return new Int4Group32("w", rows, cols, new Tensor("w.weight_packed", DType.I32, new long[] {rows, cols / 8}, p),
                new Tensor("w.weight_scale", DType.BF16, new long[] {rows, cols / 32}, s));
    }

    @Test
    void theInt4ImageDequantisesToTheCheckpointWeightAndRowBandsStartAtTheirOffsets() {
        Random rnd = new Random(11);
        try (Arena arena = Arena.ofConfined()) {
            for (int trial = 0; trial < 20; trial++) {
                int rows = 1 + rnd.nextInt(40);
                int cols = 32 * (1 + rnd.nextInt(6));
                Int4Group32 q = randomInt4(arena, rnd, rows, cols);
                Int4ExpertStack s = DeviceWeightLayout.int4Stack(q);
                // poisoned first: every byte of the image must be written
                MemorySegment words = arena.allocate(s.wordBytes()).fill((byte) 0x5A);
                MemorySegment scales = arena.allocate(s.scaleBytes()).fill((byte) 0x5A);
                DeviceWeightLayout.writeInt4Image(q, words, scales);
                for (int r = 0; r < rows; r++) {
                    for (int c = 0; c < cols; c++) {
                        assertEquals(q.dequant(r, c), s.dequant(words, scales, 0, r, c), "(" + r + ", " + c + ")");
                    }
                }
                int row0 = rnd.nextInt(rows);
                Int4ExpertStack band = new Int4ExpertStack(1, rows - row0, cols);
                MemorySegment bw = words.asSlice(DeviceWeightLayout.int4WordOffset(row0, cols));
                MemorySegment bs = scales.asSlice(DeviceWeightLayout.int4ScaleOffset(row0, cols));
                assertEquals(0, DeviceWeightLayout.int4WordOffset(row0, cols) % 16, "the band's 16-byte loads stay aligned");
                for (int r = 0; r < rows - row0; r++) {
                    for (int c = 0; c < cols; c += 7) {
                        assertEquals(q.dequant(row0 + r, c), band.dequant(bw, bs, 0, r, c), "band row " + r);
                    }
                }
            }
        }
    }

    @Test
    void bf16RowBandsStartAtTheirRowAndStayAligned() {
        try (Arena arena = Arena.ofConfined()) {
            int rows = 9;
            int cols = 24;
            MemorySegment d = arena.allocate(2L * rows * cols);
            for (int i = 0; i < rows * cols; i++) {
                d.setAtIndex(Tensor.BF16, i, (short) i);
            }
            for (int row0 = 0; row0 < rows; row0++) {
                long off = DeviceWeightLayout.bf16RowOffset(row0, cols);
                assertEquals(row0 * cols, d.get(Tensor.BF16, off));
                assertEquals(0, off % 16, "16-byte weight loads need the band aligned");
            }
        }
    }

    @Test
    void bf16WeightsTheKernelsCannotReadAreRefusedByName() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor odd = new Tensor("model.odd.weight", DType.BF16, new long[] {4, 12}, arena.allocate(2 * 48));
            var e = assertThrows(IllegalArgumentException.class, () -> DeviceWeightLayout.bf16Shape(odd));
            assertTrue(e.getMessage().contains("model.odd.weight") && e.getMessage().contains("12 columns"), e.getMessage());
            Tensor f32 = new Tensor("model.f.weight", DType.F32, new long[] {4, 8}, arena.allocate(4 * 32));
            e = assertThrows(IllegalArgumentException.class, () -> DeviceWeightLayout.bf16Shape(f32));
            assertTrue(e.getMessage().contains("model.f.weight") && e.getMessage().contains("BF16"), e.getMessage());
            Tensor v = new Tensor("model.v", DType.BF16, new long[] {8}, arena.allocate(16));
            assertThrows(IllegalArgumentException.class, () -> DeviceWeightLayout.bf16Shape(v));
            Tensor ok = new Tensor("model.ok.weight", DType.BF16, new long[] {3, 16}, arena.allocate(2 * 48));
            assertEquals(3, DeviceWeightLayout.bf16Shape(ok)[0]);
            assertEquals(16, DeviceWeightLayout.bf16Shape(ok)[1]);
        }
    }
}
