package io.peregrine.kernels.nccl;

/** NCCL cannot be used on this machine: the one start-up error, naming what to install. */
public final class NcclUnavailableException extends RuntimeException {
    public NcclUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
