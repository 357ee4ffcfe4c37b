package io.peregrine.kernels.nccl;

import java.lang.foreign.MemorySegment;

/**
 * The CUDA stream NCCL work is queued on, and a way to wait for it. Collectives are stream-ordered: the kernels
 * queued after one on the same stream see its result.
 */
public interface DeviceStream {
    /** The {@code cudaStream_t}; {@link MemorySegment#NULL} is the legacy default stream. */
    MemorySegment handle();

    /** Waits until everything queued on the stream has run. */
    void synchronize();
}
