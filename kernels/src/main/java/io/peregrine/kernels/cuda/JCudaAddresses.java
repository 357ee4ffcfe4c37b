package io.peregrine.kernels.cuda;

import jcuda.NativePointerObject;
import jcuda.Pointer;

/**
 * The raw addresses behind JCuda's handles, for the calls made outside JCuda (NCCL through {@code java.lang.foreign}
 * takes device pointers and a {@code cudaStream_t} as plain addresses). JCuda keeps them protected; a subclass's
 * copy constructor reads them without reflection.
 */
public final class JCudaAddresses {
    private JCudaAddresses() {}

    /** A device pointer's address, its byte offset (a view's) included. */
    public static long of(Pointer p) {
        return new PointerCopy(p).address();
    }

    /** A handle's address (a {@code CUstream} is the {@code cudaStream_t} the runtime API and NCCL take). */
    public static long of(NativePointerObject handle) {
        return new HandleCopy(handle).address();
    }

    private static final class PointerCopy extends Pointer {
        PointerCopy(Pointer p) {
            super(p);
        }

        long address() {
            return getNativePointer() + getByteOffset();
        }
    }

    private static final class HandleCopy extends NativePointerObject {
        HandleCopy(NativePointerObject o) {
            super(o);
        }

        long address() {
            return getNativePointer();
        }
    }
}
