package io.peregrine.kernels.nccl;

import io.peregrine.engine.dist.Communicator;
import io.peregrine.engine.dist.CommunicatorException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Hands rank 0's {@code ncclUniqueId} to every rank over a host communicator (the {@code shm} group of one node, or
 * the TCP group through {@code --master-addr:--master-port} across nodes),
 * the step NCCL leaves to its caller. The 128 bytes travel as 32 floats: a broadcast only copies them.
 */
public final class NcclBootstrap {
    private NcclBootstrap() {}

    /** The group's id, in native memory of {@code arena} (NCCL reads it from there). */
    public static MemorySegment uniqueId(NcclApi nccl, Communicator host, Arena arena) {
        MemorySegment id = arena.allocate(NcclApi.UNIQUE_ID_BYTES, 8);
        if (host.rank() == 0) {
            int r = nccl.getUniqueId(id);
            if (r != NcclApi.SUCCESS) {
                throw new CommunicatorException("ncclGetUniqueId failed: " + nccl.errorString(r) + " (ncclResult_t "
                        + r + ")");
            }
        }
        host.broadcast(id, NcclApi.UNIQUE_ID_BYTES / Float.BYTES, 0);
        return id;
    }
}
