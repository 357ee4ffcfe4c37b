package io.peregrine.engine.dist;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * A seeded run of random collectives that every rank of a group plays the same way and checks against a scalar
 * reference: each rank can rebuild every other rank's inputs from the seed, so each verifies its own results
 * without trusting the communicator. Sums must equal the rank-ordered float sum bit for bit.
 */
final class CollectiveScript {
    private CollectiveScript() {}

    /** Rank {@code r}'s input {@code k} of operation {@code op}; magnitudes vary so that the summation order shows. */
    static float input(long seed, int op, int r, long k) {
        SplittableRandom g = new SplittableRandom(seed ^ (op * 0x9E3779B97F4A7C15L) ^ (r * 0xC2B2AE3D27D4EB4FL) ^ k * 31);
        double scale = Math.pow(10, g.nextInt(-3, 7));
        return (float) ((g.nextDouble() * 2 - 1) * scale);
    }

    /** The rank-ordered sum of element {@code k} over {@code size} ranks, as a plain loop. */
    static float referenceSum(long seed, int op, int size, long k) {
        float s = input(seed, op, 0, k);
        for (int r = 1; r < size; r++) {
            s += input(seed, op, r, k);
        }
        return s;
    }

    /** Elements rank {@code p} sends rank {@code q} in all-to-all {@code op}; about a third are empty. */
    static long pairCount(long seed, int op, int p, int q, int maxCount) {
        SplittableRandom g = new SplittableRandom(seed * 7919 + op * 104729L + p * 1299709L + q);
        return g.nextInt(3) == 0 ? 0 : g.nextInt(maxCount + 1);
    }

    static void run(Communicator c, long seed, int ops, int maxCount) {
        int size = c.size();
        int me = c.rank();
        for (int op = 0; op < ops; op++) {
            SplittableRandom g = new SplittableRandom(seed * 31 + op);
            int kind = g.nextInt(6);
            int count = g.nextInt(5) == 0 ? 0 : g.nextInt(maxCount + 1);
            String what = "op " + op + " (kind " + kind + ", count " + count + ") on rank " + me + " of " + size;
            switch (kind) {
                case 0 -> {
                    float[] buf = new float[count];
                    for (int k = 0; k < count; k++) {
                        buf[k] = input(seed, op, me, k);
                    }
                    c.allReduceSum(MemorySegment.ofArray(buf), count);
                    for (int k = 0; k < count; k++) {
                        expect(referenceSum(seed, op, size, k), buf[k], what + " all_reduce element " + k);
                    }
                }
                case 1 -> {
                    float[] send = new float[count];
                    for (int k = 0; k < count; k++) {
                        send[k] = input(seed, op, me, k);
                    }
                    float[] recv = new float[count * size];
                    c.allGather(MemorySegment.ofArray(send), count, MemorySegment.ofArray(recv));
                    for (int r = 0; r < size; r++) {
                        for (int k = 0; k < count; k++) {
                            expect(input(seed, op, r, k), recv[r * count + k], what + " all_gather from " + r + " element " + k);
                        }
                    }
                }
                case 2 -> {
                    float[] send = new float[count * size];
                    for (int k = 0; k < send.length; k++) {
                        send[k] = input(seed, op, me, k);
                    }
                    float[] recv = new float[count];
                    c.reduceScatterSum(MemorySegment.ofArray(send), MemorySegment.ofArray(recv), count);
                    for (int k = 0; k < count; k++) {
                        expect(referenceSum(seed, op, size, (long) me * count + k), recv[k], what + " reduce_scatter element " + k);
                    }
                }
                case 3 -> {
                    long[] sendCounts = new long[size];
                    long[] recvCounts = new long[size];
                    for (int q = 0; q < size; q++) {
                        sendCounts[q] = pairCount(seed, op, me, q, maxCount);
                        recvCounts[q] = pairCount(seed, op, q, me, maxCount);
                    }
                    float[] send = new float[(int) Arrays.stream(sendCounts).sum()];
                    int at = 0;
                    for (int q = 0; q < size; q++) {
                        for (long k = 0; k < sendCounts[q]; k++) {
                            send[at++] = input(seed, op, me, q * 1_000_000L + k);
                        }
                    }
                    float[] recv = new float[(int) Arrays.stream(recvCounts).sum()];
                    Arrays.fill(recv, Float.NaN);
                    c.allToAll(MemorySegment.ofArray(send), sendCounts, MemorySegment.ofArray(recv), recvCounts);
                    at = 0;
                    for (int q = 0; q < size; q++) {
                        for (long k = 0; k < recvCounts[q]; k++) {
                            expect(input(seed, op, q, me * 1_000_000L + k), recv[at++], what + " all_to_all from " + q + " element " + k);
                        }
                    }
                }
                case 4 -> {
                    int root = g.nextInt(size);
                    float[] buf = new float[count];
                    for (int k = 0; k < count; k++) {
                        buf[k] = me == root ? input(seed, op, root, k) : Float.NaN;
                    }
                    c.broadcast(MemorySegment.ofArray(buf), count, root);
                    for (int k = 0; k < count; k++) {
                        expect(input(seed, op, root, k), buf[k], what + " broadcast from " + root + " element " + k);
                    }
                }
                default -> c.barrier();
            }
        }
    }

    private static void expect(float want, float got, String what) {
        if (Float.floatToRawIntBits(want) != Float.floatToRawIntBits(got)) {
            throw new AssertionError(what + ": expected " + want + ", got " + got);
        }
    }
}
