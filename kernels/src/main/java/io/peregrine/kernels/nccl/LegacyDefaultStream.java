package io.peregrine.kernels.nccl;

import java.lang.foreign.MemorySegment;
import jcuda.driver.JCudaDriver;

/**
 * The legacy default stream of the current context: it orders itself with every blocking stream of the context, but
 * not with the CUDA backend's stream, which is non-blocking; collectives on the model's activations use
 * {@link ContextStream}. This one serves standalone use (a buffer of one's own, then a synchronize).
 */
public final class LegacyDefaultStream implements DeviceStream {
    @Override
    public MemorySegment handle() {
        return MemorySegment.NULL;
    }

    @Override
    public void synchronize() {
        JCudaDriver.cuCtxSynchronize();
    }
}
