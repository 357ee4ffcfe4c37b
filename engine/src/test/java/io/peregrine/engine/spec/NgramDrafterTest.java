package io.peregrine.engine.spec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class NgramDrafterTest {
    private static int[] propose(NgramDrafter d, int[] tokens, int max) {
        int[] out = new int[max];
        return Arrays.copyOf(out, d.propose(0, tokens, 0, tokens.length, max, out));
    }

    @Test
    void draftsWhatFollowedTheEarliestOccurrenceOfTheLongestMatchingSuffix() {
        NgramDrafter d = new NgramDrafter(1, 3);
        // suffix [2, 3] occurs at 1 and at 5; "1 2 3" (n = 3) only at 0..2, which wins over the shorter matches
        assertArrayEquals(new int[] {4, 9}, propose(d, new int[] {1, 2, 3, 4, 9, 2, 3, 8, 1, 2, 3}, 2));
        // n = 2 is the longest match ([5, 6] at 0 and 3); the earliest is followed by 7, 5, 6, 0, 5, ...
        assertArrayEquals(new int[] {7, 5, 6, 0, 5}, propose(d, new int[] {5, 6, 7, 5, 6, 0, 5, 6}, 5));
        // the draft stops at the end of what is known
        assertArrayEquals(new int[] {1}, propose(d, new int[] {1, 1, 1}, 4));
    }

    @Test
    void noProposalWithoutAMatchOfAtLeastTheMinimum() {
        assertEquals(0, propose(new NgramDrafter(2, 4), new int[] {1, 2, 3, 4, 3}, 4).length);
        assertArrayEquals(new int[] {4, 3}, propose(new NgramDrafter(1, 4), new int[] {1, 2, 3, 4, 3}, 4));
        assertEquals(0, propose(new NgramDrafter(1, 4), new int[] {7}, 4).length);
        assertEquals(0, propose(new NgramDrafter(1, 4), new int[] {7, 7}, 0).length);
    }

    @Test
    void configurationIsCheckedAtStartUp() {
        assertThrows(IllegalArgumentException.class, () -> new NgramDrafter(0, 3));
        assertThrows(IllegalArgumentException.class, () -> new NgramDrafter(4, 3));
        var e = assertThrows(IllegalArgumentException.class, () -> SpeculativeConfig.ngram(3, 0, 4));
        assertTrue(e.getMessage().contains("prompt_lookup_min"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> SpeculativeConfig.ngram(0, 1, 4));
        assertThrows(IllegalArgumentException.class, () -> SpeculativeConfig.ngram(17, 1, 4));
    }
}
