package io.peregrine.kernels.layout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.checkpoint.DType;
import io.peregrine.engine.checkpoint.Int4Group32;
import io.peregrine.engine.checkpoint.Tensor;
import io.peregrine.kernels.reference.ScalarReference;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class Int4ExpertStackTest {

    static Int4Group32 random(Arena arena, Random rnd, String name, int rows, int cols) {
        MemorySegment packed = arena.allocate(4L * rows * cols / 8, 16);
        for (long i = 0; i < (long) rows * cols / 8; i++) {
            packed.setAtIndex(Tensor.I32, i, rnd.nextInt());
        }
        MemorySegment scale = arena.allocate(2L * rows * cols / 32, 16);
        for (long i = 0; i < (long) rows * cols / 32; i++) {
            scale.setAtIndex(Tensor.BF16, i, ScalarReference.toBf16((float) (rnd.nextGaussian() * 0.01)));
        }
        return new Int4Group32(name, rows, cols, new Tensor(name + ".weight_packed", DType.I32, new long[] {rows, cols / 8}, packed),
                new Tensor(name + ".weight_scale", DType.BF16, new long[] {rows, cols / 32}, scale));
    }

    @Test
    void stackedGateUpReadsBackAsEachExpertsPlainDequantisation() {
        Random rnd = new Random(7);
        int experts = 5;
        int inter = 24;
        int hidden = 96;
        try (Arena arena = Arena.ofConfined()) {
            Int4ExpertStack stack = new Int4ExpertStack(experts, 2 * inter, hidden);
            MemorySegment words = arena.allocate(stack.wordBytes(), 16);
            MemorySegment scales = arena.allocate(stack.scaleBytes(), 16);
            Int4Group32[] gate = new Int4Group32[experts];
            Int4Group32[] up = new Int4Group32[experts];
            for (int e = experts - 1; e >= 0; e--) {  // out of order: each expert lands at its own stride
                gate[e] = random(arena, rnd, "e" + e + ".gate_proj", inter, hidden);
                up[e] = random(arena, rnd, "e" + e + ".up_proj", inter, hidden);
                stack.write(e, List.of(gate[e], up[e]), words, scales, false);
            }
            for (int e = 0; e < experts; e++) {
                for (int r = 0; r < 2 * inter; r++) {
                    for (int c = 0; c < hidden; c++) {
                        float want = r < inter ? gate[e].dequant(r, c) : up[e].dequant(r - inter, c);
                        assertEquals(want, stack.dequant(words, scales, e, r, c), 0f, "expert " + e + " row " + r + " col " + c);
                    }
                }
            }
            assertEquals(0, stack.wordBytes() % 16, "the words buffer is whole 16-byte vectors");
            assertEquals(stack.wordsPerExpert(), 4 * stack.vectorsPerExpert());
        }
    }

    @Test
    void rejectsPartsThatDoNotFitTheStack() {
        Random rnd = new Random(1);
        try (Arena arena = Arena.ofConfined()) {
            Int4ExpertStack stack = new Int4ExpertStack(2, 16, 64);
            MemorySegment words = arena.allocate(stack.wordBytes());
            MemorySegment scales = arena.allocate(stack.scaleBytes());
            Int4Group32 wrongCols = random(arena, rnd, "x", 16, 32);
            var e1 = assertThrows(IllegalArgumentException.class, () -> stack.write(0, List.of(wrongCols), words, scales, false));
            assertTrue(e1.getMessage().contains("in-features"), e1.getMessage());
            Int4Group32 half = random(arena, rnd, "y", 8, 64);
            var e2 = assertThrows(IllegalArgumentException.class, () -> stack.write(1, List.of(half), words, scales, false));
            assertTrue(e2.getMessage().contains("8 rows"), e2.getMessage());
            assertThrows(IllegalArgumentException.class, () -> stack.write(2, List.of(half, half), words, scales, false));
            assertThrows(IllegalArgumentException.class, () -> new Int4ExpertStack(1, 4, 48));
        }
    }

    @Test
    void k25SizesMatchTheSpec() {
        Int4ExpertStack gateUp = new Int4ExpertStack(384, 2 * 2048, 7168);
        // spec §2.2: 896 int32 and 224 scales per row of a gate/up matrix
        assertEquals(4096L * 896, gateUp.wordsPerExpert());
        assertEquals(4096L * 224, gateUp.scalesPerExpert());
        Int4ExpertStack down = new Int4ExpertStack(384, 7168, 2048);
        assertEquals(7168L * 256, down.wordsPerExpert());
    }
}
