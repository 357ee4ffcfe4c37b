package io.peregrine.kernels.cuda;

import java.util.Optional;
import jcuda.driver.CUdevice;
import jcuda.driver.JCudaDriver;

/** Asks the CUDA driver, through JCuda, whether a usable Hopper device is present. */
final class CudaProbe {
    private CudaProbe() {}

    /**
     * The answer for this process. JCuda's driver class fails its static initialisation once; a second probe would
     * only see "Could not initialize class", so the first, informative reason is kept.
     */
    static Optional<String> probe() {
        return Once.RESULT;
    }

    private static final class Once {
        static final Optional<String> RESULT = probeDriver();
    }

    private static Optional<String> probeDriver() {
        try {
            JCudaDriver.setExceptionsEnabled(true);
            JCudaDriver.cuInit(0);
            int[] count = new int[1];
            JCudaDriver.cuDeviceGetCount(count);
            if (count[0] == 0) {
                return Optional.of("no CUDA device");
            }
            CUdevice dev = new CUdevice();
            JCudaDriver.cuDeviceGet(dev, 0);
            int[] major = new int[1];
            JCudaDriver.cuDeviceGetAttribute(major,
                    jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev);
            if (major[0] < 9) {
                return Optional.of("device 0 has compute capability " + major[0] + ".x; the kernels need sm_90a (Hopper)");
            }
            if (!KernelResources.present()) {
                return Optional.of("this build has no compiled kernels (nvcc was not present at build time)");
            }
            return Optional.empty();
        } catch (LinkageError e) {
            return Optional.of("no CUDA driver (" + e.getClass().getSimpleName() + ": " + firstLine(e.getMessage()) + ")");
        } catch (RuntimeException e) {
            return Optional.of("CUDA initialisation failed: " + firstLine(e.getMessage()));
        }
    }

    /** JCuda's load errors carry every nested stack trace in the message; the log line keeps the first line. */
    static String firstLine(String m) {
        if (m == null) {
            return "";
        }
        int nl = m.indexOf('\n');
        return (nl < 0 ? m : m.substring(0, nl)).strip();
    }
}
