package io.peregrine.kernels.nccl;

import java.lang.foreign.MemorySegment;

/**
 * The NCCL 2 entry points {@link NcclCommunicator} calls, one method per C function with NCCL's arguments and its
 * {@code ncclResult_t} return code. {@link FfmNccl} binds them to {@code libnccl.so.2}; tests bind a fake.
 * Buffers, communicators and streams are raw addresses.
 */
public interface NcclApi {
    int SUCCESS = 0;
    /** {@code ncclFloat32}. */
    int FLOAT32 = 7;
    /** {@code ncclSum}. */
    int SUM = 0;
    /** Bytes of an {@code ncclUniqueId}. */
    int UNIQUE_ID_BYTES = 128;

    /** {@code ncclGetVersion(int*)}: e.g. 22105 for 2.21.5. */
    int getVersion(MemorySegment version);

    /** {@code ncclGetUniqueId(ncclUniqueId*)}. */
    int getUniqueId(MemorySegment id);

    /** {@code ncclCommInitRank(ncclComm_t*, int nranks, ncclUniqueId, int rank)}; the id passes by value. */
    int commInitRank(MemorySegment commOut, int nranks, MemorySegment id, int rank);

    int commDestroy(MemorySegment comm);

    int commAbort(MemorySegment comm);

    String errorString(int result);

    int allReduce(MemorySegment send, MemorySegment recv, long count, int datatype, int op, MemorySegment comm,
                  MemorySegment stream);

    int allGather(MemorySegment send, MemorySegment recv, long sendCount, int datatype, MemorySegment comm,
                  MemorySegment stream);

    int reduceScatter(MemorySegment send, MemorySegment recv, long recvCount, int datatype, int op, MemorySegment comm,
                      MemorySegment stream);

    int broadcast(MemorySegment send, MemorySegment recv, long count, int datatype, int root, MemorySegment comm,
                  MemorySegment stream);

    int send(MemorySegment buf, long count, int datatype, int peer, MemorySegment comm, MemorySegment stream);

    int recv(MemorySegment buf, long count, int datatype, int peer, MemorySegment comm, MemorySegment stream);

    int groupStart();

    int groupEnd();
}
