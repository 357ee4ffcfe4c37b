package io.peregrine.kernels.nccl;

import io.peregrine.engine.dist.Collectives;
import io.peregrine.engine.dist.Communicator;
import io.peregrine.engine.dist.CommunicatorException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A {@link Communicator} over NCCL for ranks that each drive one GPU. Buffers are device memory, passed as segments
 * at device addresses ({@code MemorySegment.ofAddress(ptr).reinterpret(bytes)}); every collective is queued on the
 * rank's stream and returns at once (stream order makes its result visible to the kernels queued after it), except
 * {@link #barrier}, which waits for the stream.
 *
 * <p>Order of sums: NCCL's own, fixed for a given NCCL version, topology, {@code NCCL_ALGO} and {@code NCCL_PROTO}
 * (pin {@code NCCL_ALGO=Ring} for run-to-run reproducibility), not necessarily rank order as on the host
 * implementations; a ring all-reduce gives every rank the same bits.
 */
public final class NcclCommunicator implements Communicator {
    private static final long F = Float.BYTES;

    private final NcclApi nccl;
    private final MemorySegment comm;
    private final DeviceStream stream;
    private final MemorySegment scratch;
    private final int rank;
    private final int size;
    private volatile boolean closed;

    private NcclCommunicator(NcclApi nccl, MemorySegment comm, DeviceStream stream, MemorySegment scratch, int rank,
                             int size) {
        this.nccl = nccl;
        this.comm = comm;
        this.stream = stream;
        this.scratch = scratch;
        this.rank = rank;
        this.size = size;
    }

    /**
     * Joins the NCCL group {@code uniqueId} (from {@link NcclBootstrap}) as {@code rank} of {@code size}, on the
     * current CUDA device.
     *
     * @param scratch one float of device memory, for {@link #barrier}
     */
    public static NcclCommunicator open(NcclApi nccl, int rank, int size, MemorySegment uniqueId, DeviceStream stream,
                                        MemorySegment scratch) {
        if (size < 1 || rank < 0 || rank >= size) {
            throw new IllegalArgumentException("rank " + rank + " outside a group of " + size);
        }
        if (uniqueId.byteSize() != NcclApi.UNIQUE_ID_BYTES) {
            throw new IllegalArgumentException("an ncclUniqueId has " + NcclApi.UNIQUE_ID_BYTES + " bytes, got "
                    + uniqueId.byteSize());
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            check(nccl, nccl.commInitRank(out, size, uniqueId, rank), "ncclCommInitRank(rank " + rank + " of " + size + ")");
            return new NcclCommunicator(nccl, out.get(ValueLayout.ADDRESS, 0), stream, scratch, rank, size);
        }
    }

    /** NCCL takes device addresses: the model hands it its activations in place. */
    @Override
    public boolean onDevice() {
        return true;
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public void allReduceSum(MemorySegment buf, long count) {
        usable();
        Collectives.checkCount(buf, count, "buf");
        check(nccl, nccl.allReduce(buf, buf, count, NcclApi.FLOAT32, NcclApi.SUM, comm, stream.handle()), "ncclAllReduce");
    }

    @Override
    public void allGather(MemorySegment send, long count, MemorySegment recv) {
        usable();
        Collectives.checkCount(send, count, "send");
        Collectives.checkCount(recv, count * size, "recv");
        check(nccl, nccl.allGather(send, recv, count, NcclApi.FLOAT32, comm, stream.handle()), "ncclAllGather");
    }

    @Override
    public void reduceScatterSum(MemorySegment send, MemorySegment recv, long count) {
        usable();
        Collectives.checkCount(send, count * size, "send");
        Collectives.checkCount(recv, count, "recv");
        check(nccl, nccl.reduceScatter(send, recv, count, NcclApi.FLOAT32, NcclApi.SUM, comm, stream.handle()),
                "ncclReduceScatter");
    }

    /** One NCCL group of point-to-point sends and receives, empty parts left out on both sides. */
    @Override
    public void allToAll(MemorySegment send, long[] sendCounts, MemorySegment recv, long[] recvCounts) {
        usable();
        Collectives.checkCounts(sendCounts, recvCounts, size);
        Collectives.checkCount(send, Collectives.sum(sendCounts), "send");
        Collectives.checkCount(recv, Collectives.sum(recvCounts), "recv");
        check(nccl, nccl.groupStart(), "ncclGroupStart");
        long from = 0;
        long to = 0;
        for (int q = 0; q < size; q++) {
            if (sendCounts[q] > 0) {
                check(nccl, nccl.send(send.asSlice(from * F), sendCounts[q], NcclApi.FLOAT32, q, comm, stream.handle()),
                        "ncclSend to rank " + q);
            }
            if (recvCounts[q] > 0) {
                check(nccl, nccl.recv(recv.asSlice(to * F), recvCounts[q], NcclApi.FLOAT32, q, comm, stream.handle()),
                        "ncclRecv from rank " + q);
            }
            from += sendCounts[q];
            to += recvCounts[q];
        }
        check(nccl, nccl.groupEnd(), "ncclGroupEnd");
    }

    @Override
    public void broadcast(MemorySegment buf, long count, int root) {
        usable();
        if (root < 0 || root >= size) {
            throw new IllegalArgumentException("root " + root + " outside a group of " + size);
        }
        Collectives.checkCount(buf, count, "buf");
        check(nccl, nccl.broadcast(buf, buf, count, NcclApi.FLOAT32, root, comm, stream.handle()), "ncclBroadcast");
    }

    /** A one-float all-reduce, then a wait for the stream: returns once every rank's stream got this far. */
    @Override
    public void barrier() {
        usable();
        check(nccl, nccl.allReduce(scratch, scratch, 1, NcclApi.FLOAT32, NcclApi.SUM, comm, stream.handle()),
                "ncclAllReduce (barrier)");
        stream.synchronize();
    }

    /** Destroys the communicator; after {@link #abort} there is nothing left to destroy. */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            check(nccl, nccl.commDestroy(comm), "ncclCommDestroy");
        }
    }

    /**
     * {@code ncclCommAbort}, from the group's supervisor while the engine thread may be waiting on the device for a
     * collective whose peer died: NCCL ends the pending operations and frees the communicator; later calls fail.
     */
    @Override
    public synchronized void abort() {
        if (!closed) {
            closed = true;
            check(nccl, nccl.commAbort(comm), "ncclCommAbort");
        }
    }

    private void usable() {
        if (closed) {
            throw new IllegalStateException("rank " + rank + " has closed its NCCL communicator");
        }
    }


    private static void check(NcclApi nccl, int result, String call) {
        if (result != NcclApi.SUCCESS) {
            throw new CommunicatorException(call + " failed: " + nccl.errorString(result) + " (ncclResult_t " + result + ")");
        }
    }
}
