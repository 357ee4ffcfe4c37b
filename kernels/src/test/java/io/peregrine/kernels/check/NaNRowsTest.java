package io.peregrine.kernels.check;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.peregrine.kernels.reference.ScalarReference;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The NaN rows of the device check and the ids written by hand for them agree with the scalar references here, on
 * the CPU, so a device failure on them is the kernel's and device time is not spent on a wrong expectation.
 */
class NaNRowsTest {

    @Test
    void argmaxAndTopPRowsHaveTheIdsWrittenForThem() {
        for (long seed : new long[] {1, 2, 3}) {
            KernelChecks.ArgmaxNaNRows rows = KernelChecks.ArgmaxNaNRows.of(new Random(seed));
            int vocab = KernelChecks.ArgmaxNaNRows.VOCAB;
            for (int r = 0; r < KernelChecks.ArgmaxNaNRows.ROWS; r++) {
                assertEquals(rows.want()[r], ScalarReference.argmax(rows.logits(), r * vocab, vocab), "argmax row " + r);
            }
            for (int r = 0; r < KernelChecks.ArgmaxNaNRows.ROWS - 1; r++) {
                assertEquals(rows.want()[r], ScalarReference.sampleTopP(rows.logits(), r * vocab, vocab, 0.7f, 0.9f,
                        rows.u()[r]), "top-p row " + r + ": a one-token nucleus or no softmax");
            }
            int last = KernelChecks.ArgmaxNaNRows.ROWS - 1;
            int t = ScalarReference.sampleTopP(rows.logits(), last * vocab, vocab, 0.7f, 0.9f, rows.u()[last]);
            assertEquals(1, t % 2, "the row with every even logit NaN sampled an even (NaN) token " + t);
        }
    }

    @Test
    void routerRowsHaveTheIdsWrittenForThem() {
        KernelChecks.RouterNaNRows rows = KernelChecks.RouterNaNRows.of(new Random(4));
        int k = KernelChecks.RouterNaNRows.K;
        float[] w = new float[3 * k];
        int[] got = ScalarReference.route(rows.logits(), 3, KernelChecks.RouterNaNRows.EXPERTS, rows.bias(), k, 2.827f, w);
        assertArrayEquals(rows.want0(), Arrays.copyOfRange(got, 0, k));
        assertArrayEquals(rows.want1(), Arrays.copyOfRange(got, k, 2 * k));
        assertFalse(Arrays.stream(got, 2 * k, 3 * k).anyMatch(e -> e == rows.top()), "the NaN-biased expert was chosen");
        for (float x : w) {
            assertFalse(Float.isNaN(x) || Float.isInfinite(x), "weights " + Arrays.toString(w));
        }
        assertEquals(0f, w[0]);
        assertEquals(0f, w[k + 3], "a NaN score weighs 0");
    }
}
