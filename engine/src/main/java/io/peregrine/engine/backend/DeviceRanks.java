package io.peregrine.engine.backend;

import io.peregrine.engine.dist.Communicator;

/**
 * How a device backend runs the ranks of {@code serve --tensor-parallel-size N}: each rank opens its own device and
 * the ranks' model collectives go through the device's collective library (CUDA: NCCL on the backend's stream),
 * bootstrapped over the host group the ranks already share ({@code shm} on one node, TCP across nodes). The host group
 * stays the control plane (rank 0's step inputs, stop, a lost peer); the device collectives carry the activations.
 */
public interface DeviceRanks {

    /** Devices this process may use, after the driver applied {@code CUDA_VISIBLE_DEVICES}. */
    int visibleDevices();

    /** A backend on device {@code ordinal} of the visible ones; the caller owns and closes it. */
    Backend open(int ordinal);

    /**
     * Joins the group's device collectives as {@code host.rank()} of {@code host.size()}, on {@code backend}'s device
     * and stream: rank 0 makes the group's id and {@code host} carries it to the others, so every rank of {@code host}
     * must call this at the same point of its exchange. The caller closes the result before {@code backend}.
     */
    Communicator collectives(Backend backend, Communicator host);
}
