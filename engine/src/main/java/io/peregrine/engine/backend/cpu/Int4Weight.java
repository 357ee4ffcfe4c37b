package io.peregrine.engine.backend.cpu;

import io.peregrine.engine.backend.LinearWeight;
import io.peregrine.engine.checkpoint.Int4Group32;
import io.peregrine.engine.checkpoint.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * An INT4 group-32 weight repacked once at load so one vector load holds the same word of {@code lanes}
 * consecutive groups: {@code words[r][b][w][l] = packed[r][(b·lanes + l)·4 + w]} and
 * {@code scales[r][b·lanes + l]} (BF16 bits). A block {@code b} covers groups {@code b·lanes ..}, padded with
 * zero scales so every row is whole blocks; the kernel then needs no tail loop and the scale of a lane is
 * applied once per block instead of once per weight. Same bytes as the stored format (nibbles untouched), kept
 * off-heap (a K2.5 checkpoint holds ~500 GB of them) in the backend's arena, little-endian, 64-byte aligned.
 */
record Int4Weight(String name, int rows, int cols, int lanes, int blocks, MemorySegment words, MemorySegment scales)
        implements LinearWeight {

    static final int WORDS_PER_GROUP = Int4Group32.GROUP / Int4Group32.PER_WORD;

    int groups() {
        return cols / Int4Group32.GROUP;
    }

    int wordsPerRow() {
        return blocks * WORDS_PER_GROUP * lanes;
    }

    int scalesPerRow() {
        return blocks * lanes;
    }

    @Override
    public long weightBytes() {
        return (long) rows * (cols / 2 + groups() * 2L);
    }

    static Int4Weight repack(Int4Group32 q, int lanes, Arena arena) {
        int groups = q.cols() / Int4Group32.GROUP;
        int blocks = (groups + lanes - 1) / lanes;
        int wpr = blocks * WORDS_PER_GROUP * lanes;
        int spr = blocks * lanes;
        MemorySegment words = arena.allocate(4L * q.rows() * wpr, 64);
        MemorySegment scales = arena.allocate(2L * q.rows() * spr, 64);
        int storedWordsPerRow = q.cols() / Int4Group32.PER_WORD;
        for (int r = 0; r < q.rows(); r++) {
            for (int g = 0; g < groups; g++) {
                int b = g / lanes;
                int l = g % lanes;
                for (int w = 0; w < WORDS_PER_GROUP; w++) {
                    words.setAtIndex(Tensor.I32, (long) r * wpr + (b * WORDS_PER_GROUP + w) * lanes + l, q.packed().data()
                            .getAtIndex(Tensor.I32, (long) r * storedWordsPerRow + g * WORDS_PER_GROUP + w));
                }
                scales.setAtIndex(Tensor.BF16, (long) r * spr + g, q.scale().data().getAtIndex(Tensor.BF16, (long) r * groups + g));
            }
        }
        return new Int4Weight(q.module(), q.rows(), q.cols(), lanes, blocks, words, scales);
    }
}
