package io.peregrine.kernels.layout;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

class TileScheduleTest {

    @Test
    void cutsEachExpertIntoTilesAndSkipsEmptyExperts() {
        TileSchedule s = TileSchedule.of(new int[] {0, 0, 130, 130, 131, 195}, 64);
        assertArrayEquals(new int[] {1, 1, 1, 3, 4}, s.expert());
        assertArrayEquals(new int[] {0, 64, 128, 130, 131}, s.row0());
        assertArrayEquals(new int[] {64, 64, 2, 1, 64}, s.rows());
    }

    @Test
    void randomRoutingsCoverEveryRowExactlyOnce() {
        Random rnd = new Random(3);
        for (int trial = 0; trial < 50; trial++) {
            int experts = 1 + rnd.nextInt(40);
            int[] off = new int[experts + 1];
            for (int e = 0; e < experts; e++) {
                off[e + 1] = off[e] + (rnd.nextInt(3) == 0 ? 0 : rnd.nextInt(200));
            }
            int tile = 1 + rnd.nextInt(80);
            TileSchedule s = TileSchedule.of(off, tile);
            int[] owner = new int[off[experts]];
            java.util.Arrays.fill(owner, -1);
            for (int i = 0; i < s.size(); i++) {
                assertTrue(s.rows()[i] >= 1 && s.rows()[i] <= tile);
                for (int p = s.row0()[i]; p < s.row0()[i] + s.rows()[i]; p++) {
                    assertEquals(-1, owner[p], "row " + p + " in two tiles");
                    owner[p] = s.expert()[i];
                }
            }
            for (int e = 0; e < experts; e++) {
                for (int p = off[e]; p < off[e + 1]; p++) {
                    assertEquals(e, owner[p]);
                }
            }
        }
    }

    @Test
    void badOffsetsAreNamed() {
        var e = assertThrows(IllegalArgumentException.class, () -> TileSchedule.of(new int[] {0, 5, 3}, 64));
        assertTrue(e.getMessage().contains("expert 1"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> TileSchedule.of(new int[] {1, 5}, 64));
        assertThrows(IllegalArgumentException.class, () -> TileSchedule.of(new int[] {0, 5}, 0));
    }
}
