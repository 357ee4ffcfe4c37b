package io.peregrine.kernels.nccl;

import io.peregrine.kernels.cuda.CudaContext;
import io.peregrine.kernels.cuda.JCudaAddresses;
import java.lang.foreign.MemorySegment;

/**
 * The CUDA backend's own stream, for NCCL: the sharded step's collectives queue there between the kernels that
 * produce and consume the activations, so stream order is all the synchronisation they need. (The backend's stream
 * is non-blocking: it does not order itself with the legacy default stream, so NCCL must not use that one for the
 * model's activations.)
 */
public final class ContextStream implements DeviceStream {
    private final CudaContext ctx;
    private final MemorySegment handle;

    public ContextStream(CudaContext ctx) {
        this.ctx = ctx;
        long address = JCudaAddresses.of(ctx.stream());
        this.handle = address == 0 ? MemorySegment.NULL : MemorySegment.ofAddress(address);
    }

    @Override
    public MemorySegment handle() {
        return handle;
    }

    @Override
    public void synchronize() {
        ctx.sync();
    }
}
