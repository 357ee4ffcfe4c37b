package io.peregrine.kernels.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Optional;

/** Where the nvcc profile of {@code kernels/pom.xml} puts its outputs on the class path. */
public final class KernelResources {
    /** SASS for Hopper with the sm_90a features (wgmma, setmaxnreg). */
    public static final String CUBIN = "/io/peregrine/kernels/sm_90a/peregrine.cubin";
    /** Portable PTX for compute_90, which the driver compiles at load when the cubin does not fit the device. */
    public static final String PTX = "/io/peregrine/kernels/compute_90/peregrine.ptx";

    private KernelResources() {}

    public static boolean present() {
        return KernelResources.class.getResource(CUBIN) != null;
    }

    public static Optional<byte[]> read(String resource) {
        try (InputStream in = KernelResources.class.getResourceAsStream(resource)) {
            return in == null ? Optional.empty() : Optional.of(in.readAllBytes());
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + resource, e);
        }
    }
}
