package io.peregrine.kernels.check;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.peregrine.kernels.cuda.CudaContext;
import io.peregrine.kernels.cuda.DeviceOps;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The kernel checks as a test, for a machine with a Hopper GPU and a JDK (surefire excludes the tag by default). */
@Tag("gpu")
class GpuKernelsTest {

    @Test
    void everyKernelMatchesItsScalarReference() {
        assumeTrue(Files.exists(Path.of("/dev/nvidia0")) || Files.exists(Path.of("/dev/nvidiactl")), "no NVIDIA device");
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        try (CudaContext ctx = CudaContext.open(0); PrintStream out = new PrintStream(log, true, StandardCharsets.UTF_8)) {
            KernelChecks checks = new KernelChecks(new DeviceOps(ctx), System.nanoTime(), out);
            checks.runAll();
            assertEquals(0, checks.failures, log.toString(StandardCharsets.UTF_8));
        }
    }
}
