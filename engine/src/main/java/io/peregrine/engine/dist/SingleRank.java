package io.peregrine.engine.dist;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** A group of one: every collective is the identity (or a copy), nothing is communicated. The default. */
public final class SingleRank implements Communicator {
    private static final long F = ValueLayout.JAVA_FLOAT.byteSize();

    @Override
    public int rank() {
        return 0;
    }

    @Override
    public int size() {
        return 1;
    }

    @Override
    public void allReduceSum(MemorySegment buf, long count) {
        Collectives.checkCount(buf, count, "buf");
    }

    @Override
    public void allGather(MemorySegment send, long count, MemorySegment recv) {
        copy(send, recv, count);
    }

    @Override
    public void reduceScatterSum(MemorySegment send, MemorySegment recv, long count) {
        copy(send, recv, count);
    }

    @Override
    public void allToAll(MemorySegment send, long[] sendCounts, MemorySegment recv, long[] recvCounts) {
        Collectives.checkCounts(sendCounts, recvCounts, 1);
        if (sendCounts[0] != recvCounts[0]) {
            throw new IllegalArgumentException("rank 0 sends " + sendCounts[0] + " elements to itself but expects "
                    + recvCounts[0]);
        }
        copy(send, recv, sendCounts[0]);
    }

    @Override
    public void broadcast(MemorySegment buf, long count, int root) {
        if (root != 0) {
            throw new IllegalArgumentException("root " + root + " outside a group of 1");
        }
        Collectives.checkCount(buf, count, "buf");
    }

    @Override
    public void barrier() {
    }

    @Override
    public void close() {
    }

    private static void copy(MemorySegment src, MemorySegment dst, long count) {
        Collectives.checkCount(src, count, "send");
        Collectives.checkCount(dst, count, "recv");
        MemorySegment.copy(src, 0, dst, 0, count * F);
    }
}
