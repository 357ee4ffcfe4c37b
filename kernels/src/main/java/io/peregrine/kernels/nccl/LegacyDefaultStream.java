package io.peregrine.kernels.nccl;

import java.lang.foreign.MemorySegment;
import jcuda.driver.JCudaDriver;

/**
 * The legacy default stream of the current context: it orders itself with every blocking stream of the context
 * (the backend's stream among them), so NCCL calls on it need no events. Until the step runner hands its own
 * stream over, this is the stream NCCL uses.
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
