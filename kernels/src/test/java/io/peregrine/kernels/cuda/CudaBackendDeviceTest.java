package io.peregrine.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.peregrine.kernels.check.BackendChecks;
import io.peregrine.kernels.check.GoldenTextCheck;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * CudaBackend on a real device: every Backend method against the CPU backend on random shapes (outputs poisoned), and
 * the golden tiny checkpoint's text logits through the unchanged model. Surefire excludes the tag (CI has no GPU);
 * {@code scripts/gpu-check.sh run} runs the same two checks from the carried jars (the device machine has no Maven).
 */
@Tag("gpu")
class CudaBackendDeviceTest {

    @Test
    void everyMethodMatchesTheCpuBackend() {
        assumeTrue(CudaProbe.probe().isEmpty(), () -> "no usable CUDA device: " + CudaProbe.probe().orElse(""));
        try (CudaBackend fp32 = CudaBackend.open(0, new CudaBackend.Options(0, true));
             CudaBackend tensorCores = CudaBackend.open(0, new CudaBackend.Options(16, true))) {
            BackendChecks b = new BackendChecks(fp32, tensorCores, System.nanoTime(), System.out);
            b.runAll();
            assertEquals(0, b.failures, b.failures + " of " + b.checks + " backend checks failed (see the output)");
        }
    }

    @Test
    void theGoldenTinyModelMatchesTheFp32Reference() {
        assumeTrue(CudaProbe.probe().isEmpty(), () -> "no usable CUDA device: " + CudaProbe.probe().orElse(""));
        Path golden = Path.of(System.getProperty("peregrine.testdata", "../testdata")).resolve("golden");
        try (CudaBackend fp32 = CudaBackend.open(0, new CudaBackend.Options(0, true))) {
            GoldenTextCheck g = new GoldenTextCheck(golden, System.out);
            g.run(fp32);
            assertEquals(0, g.failures, g.failures + " of " + g.checks + " golden cases failed (see the output)");
        }
    }
}
