package io.peregrine.engine.backend;

import java.lang.foreign.MemorySegment;

/**
 * A backend memory whose activations a communicator can read and write where they live: for CUDA with NCCL, the
 * device address of an activation, so the sharded step's all-reduces run on the device buffers on the compute
 * stream, with no copy through the host.
 */
public interface InPlaceCollectives {

    /**
     * The activation's {@code rows × cols} floats as one segment at their address (a device address on a GPU, not
     * dereferenceable from Java). Only a tensor whose rows are back to back has one; a column view is refused.
     */
    MemorySegment segment(Activation a);
}
