package io.peregrine.kernels.nccl;

import io.peregrine.engine.backend.Backend;
import io.peregrine.engine.backend.DeviceRanks;
import io.peregrine.engine.dist.Communicator;
import io.peregrine.kernels.cuda.CudaBackend;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.function.IntFunction;

/**
 * The CUDA backend's ranks: one {@link CudaBackend} per rank on its own device, the model's collectives through an
 * {@link NcclCommunicator} on that backend's stream, the NCCL group's id handed from rank 0 over the host group
 * ({@link NcclBootstrap}). NCCL is bound when this is made, so a machine without it fails at start-up, once, before
 * any rank opens a device.
 */
public final class CudaRanks implements DeviceRanks {
    private final NcclApi nccl;
    private final IntFunction<CudaBackend> open;
    private final int visible;

    /**
     * @param open    a backend on a visible device ordinal (the driver's in production, a fake one in tests)
     * @param visible how many devices the driver shows this process
     */
    public CudaRanks(NcclApi nccl, IntFunction<CudaBackend> open, int visible) {
        this.nccl = nccl;
        this.open = open;
        this.visible = visible;
    }

    @Override
    public int visibleDevices() {
        return visible;
    }

    @Override
    public Backend open(int ordinal) {
        if (ordinal < 0 || ordinal >= visible) {
            throw new IllegalArgumentException("device " + ordinal + " is not among the " + visible + " visible");
        }
        return open.apply(ordinal);
    }

    /** {@code ncclCommInitRank} blocks until every rank of the group has called it: the ranks call this together. */
    @Override
    public Communicator collectives(Backend backend, Communicator host) {
        if (!(backend instanceof CudaBackend cuda)) {
            throw new IllegalArgumentException("NCCL ranks run on the CUDA backend, not " + backend.name());
        }
        cuda.context().makeCurrent();
        MemorySegment scratch = cuda.segment(cuda.allocate(1, 1));
        try (Arena arena = Arena.ofConfined()) {
            // NCCL copies the id during init: its memory may go when the group is made
            MemorySegment id = NcclBootstrap.uniqueId(nccl, host, arena);
            return NcclCommunicator.open(nccl, host.rank(), host.size(), id, new ContextStream(cuda.context()), scratch);
        }
    }
}
