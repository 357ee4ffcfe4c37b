package io.peregrine.engine.dist;

import java.lang.foreign.MemorySegment;

/**
 * The collectives one rank of a tensor/expert-parallel group needs for a sharded MoE step, over fp32 buffers given
 * as memory segments (heap or native for the host implementations, device addresses for NCCL). Counts are in
 * elements. Every rank of the group calls the same collectives in the same order with matching counts; a call
 * returns once this rank's part is done.
 *
 * <p>The host implementations sum in a fixed rank order, {@code ((x0 + x1) + x2) + ...}, so a run is reproducible
 * and every rank gets the same bits (NCCL sums in its own fixed order). There, a peer that dies or stops answering
 * fails the call with a {@link CommunicatorException} rather than hanging it, and the communicator is unusable
 * afterwards. One thread per rank calls it.
 */
public interface Communicator extends AutoCloseable {

    int rank();

    int size();

    /** In place: {@code buf[0, count)} becomes the sum of every rank's {@code buf[0, count)}. */
    void allReduceSum(MemorySegment buf, long count);

    /** {@code recv[r * count, (r + 1) * count)} becomes rank {@code r}'s {@code send[0, count)}. */
    void allGather(MemorySegment send, long count, MemorySegment recv);

    /** {@code recv[0, count)} becomes the sum of every rank's {@code send[rank * count, (rank + 1) * count)}. */
    void reduceScatterSum(MemorySegment send, MemorySegment recv, long count);

    /**
     * Personalised exchange with per-rank counts (the token dispatch of expert parallelism): {@code send} holds
     * {@code sendCounts[q]} elements for rank {@code q}, back to back in rank order, and {@code recv} receives
     * {@code recvCounts[q]} elements from rank {@code q} the same way. Rank {@code p}'s {@code sendCounts[q]} must
     * equal rank {@code q}'s {@code recvCounts[p]}; zero counts are allowed.
     */
    void allToAll(MemorySegment send, long[] sendCounts, MemorySegment recv, long[] recvCounts);

    /** {@code buf[0, count)} on every rank becomes rank {@code root}'s. */
    void broadcast(MemorySegment buf, long count, int root);

    /**
     * Whether its buffers are device memory (NCCL): the model then hands it activations in place
     * ({@link io.peregrine.engine.backend.InPlaceCollectives}) instead of host copies. The host implementations take
     * Java memory.
     */
    default boolean onDevice() {
        return false;
    }

    /** Returns once every rank has called it. */
    void barrier();

    /**
     * The group is broken (a peer is gone): end this rank's pending and later collectives, from any thread. The host
     * implementations see a dead peer by themselves (they watch its pid or socket), so they need nothing here; NCCL's
     * waits on a dead peer never end until the communicator is aborted.
     */
    default void abort() {
    }

    /** Leaves the group; a peer still waiting on this rank fails instead of hanging. */
    @Override
    void close();
}
