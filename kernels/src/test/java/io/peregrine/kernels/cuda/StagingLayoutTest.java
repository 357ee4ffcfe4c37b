package io.peregrine.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

class StagingLayoutTest {

    @Test
    void inputsComeFirstThenOutputsEachAlignedAndDisjoint() {
        Random rnd = new Random(7);
        for (int trial = 0; trial < 200; trial++) {
            long[] in = new long[rnd.nextInt(5)];
            long[] out = new long[rnd.nextInt(4)];
            for (int i = 0; i < in.length; i++) {
                in[i] = rnd.nextInt(3) == 0 ? 0 : 4L * rnd.nextInt(5000);
            }
            for (int i = 0; i < out.length; i++) {
                out[i] = 4L * rnd.nextInt(5000);
            }
            StagingLayout l = StagingLayout.of(in, out);
            long prevEnd = 0;
            for (int i = 0; i < in.length; i++) {
                assertEquals(0, l.input(i) % StagingLayout.ALIGN, "input " + i + " aligned");
                assertTrue(l.input(i) >= prevEnd, "input " + i + " overlaps the one before");
                prevEnd = l.input(i) + Math.max(4, in[i]);
            }
            assertEquals(prevEnd, l.inputEnd(), "one copy in covers exactly the inputs");
            assertTrue(l.outputStart() >= l.inputEnd());
            assertEquals(0, l.outputStart() % StagingLayout.ALIGN);
            prevEnd = l.outputStart();
            for (int i = 0; i < out.length; i++) {
                assertEquals(0, l.output(i) % StagingLayout.ALIGN, "output " + i + " aligned");
                assertTrue(l.output(i) >= prevEnd, "output " + i + " overlaps");
                prevEnd = l.output(i) + Math.max(4, out[i]);
            }
            assertEquals(out.length == 0 ? l.outputStart() : prevEnd, l.end());
            if (out.length > 0) {
                assertEquals(l.outputStart(), l.output(0), "one copy out starts at the first output");
            }
        }
    }

    @Test
    void aKnownLayout() {
        StagingLayout l = StagingLayout.of(new long[] {100, 0, 512}, new long[] {8});
        assertEquals(0, l.input(0));
        assertEquals(256, l.input(1));  // an empty region still gets an address of its own
        assertEquals(512, l.input(2));
        assertEquals(1024, l.inputEnd());
        assertEquals(1024, l.output(0));
        assertEquals(1032, l.end());
    }

    @Test
    void negativeSizesAreRefused() {
        var e = assertThrows(IllegalArgumentException.class, () -> StagingLayout.of(new long[] {-4}, new long[0]));
        assertTrue(e.getMessage().contains("input 0"), e.getMessage());
    }

    @Test
    void growthDoublesInWholeMebibytesUpToTheCap() {
        long mib = 1L << 20;
        assertEquals(0, StagingLayout.grow(0, 0));
        assertEquals(mib, StagingLayout.grow(0, 1));
        assertEquals(mib, StagingLayout.grow(mib, mib), "fits: unchanged");
        assertEquals(2 * mib, StagingLayout.grow(mib, mib + 1), "at least double");
        assertEquals(5 * mib, StagingLayout.grow(mib, 4 * mib + 1), "or what is needed, rounded up to a MiB");
        assertEquals(StagingLayout.MAX_CAPACITY, StagingLayout.grow(StagingLayout.MAX_CAPACITY - mib, StagingLayout.MAX_CAPACITY),
                "never past the cap");
        var e = assertThrows(IllegalArgumentException.class, () -> StagingLayout.grow(0, StagingLayout.MAX_CAPACITY + 1));
        assertTrue(e.getMessage().contains("staging"), e.getMessage());
    }

    @Test
    void productsTooLargeForOneFillAreCutIntoRowChunks() {
        long perRow = 4L * (7168 + 163840);  // the lm_head: one token in, a vocabulary out
        int chunk = StagingLayout.rowsPerChunk(perRow);
        assertTrue(chunk >= 1);
        StagingLayout l = StagingLayout.of(new long[] {4L * chunk * 7168, 16}, new long[] {4L * chunk * 163840});
        assertTrue(l.end() <= StagingLayout.MAX_CAPACITY, "a chunk fits: " + l);
        assertTrue((long) (chunk + 1) * perRow > StagingLayout.MAX_CAPACITY - 2L * StagingLayout.ALIGN, "and is the largest that does");
        assertThrows(IllegalArgumentException.class, () -> StagingLayout.rowsPerChunk(StagingLayout.MAX_CAPACITY));
        assertThrows(IllegalArgumentException.class, () -> StagingLayout.rowsPerChunk(0));
    }
}
