package io.peregrine.engine.dist;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Argument checks every communicator shares (the NCCL one in module {@code kernels} too), so a wrong count fails
 * before any rank waits on another, with one message whichever implementation runs.
 */
public final class Collectives {
    private Collectives() {}

    public static void checkCount(MemorySegment seg, long count, String what) {
        if (count < 0 || count * ValueLayout.JAVA_FLOAT.byteSize() > seg.byteSize()) {
            throw new IllegalArgumentException(what + " holds " + seg.byteSize() / ValueLayout.JAVA_FLOAT.byteSize()
                    + " floats, " + count + " asked");
        }
    }

    public static void checkCounts(long[] sendCounts, long[] recvCounts, int size) {
        if (sendCounts.length != size || recvCounts.length != size) {
            throw new IllegalArgumentException("all-to-all needs one send and one receive count per rank (" + size
                    + "), got " + sendCounts.length + " and " + recvCounts.length);
        }
        for (int q = 0; q < size; q++) {
            if (sendCounts[q] < 0 || recvCounts[q] < 0) {
                throw new IllegalArgumentException("negative all-to-all count for rank " + q);
            }
        }
    }

    public static long sum(long[] counts) {
        long s = 0;
        for (long c : counts) {
            s += c;
        }
        return s;
    }
}
