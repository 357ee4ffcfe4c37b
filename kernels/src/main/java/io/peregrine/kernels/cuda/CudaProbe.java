package io.peregrine.kernels.cuda;

import java.util.Optional;
import jcuda.driver.CUdevice;
import jcuda.driver.JCudaDriver;

/** Asks the CUDA driver, through JCuda, whether a usable Hopper device is present. */
final class CudaProbe {
    private CudaProbe() {}

    static Optional<String> probe() {
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
            if (CudaProbe.class.getResource("/io/peregrine/kernels/sm_90a/peregrine.cubin") == null) {
                return Optional.of("this build has no compiled kernels (nvcc was not present at build time)");
            }
            return Optional.empty();
        } catch (LinkageError e) {
            return Optional.of("no CUDA driver (" + e.getClass().getSimpleName() + ": " + e.getMessage() + ")");
        } catch (RuntimeException e) {
            return Optional.of("CUDA initialisation failed: " + e.getMessage());
        }
    }
}
