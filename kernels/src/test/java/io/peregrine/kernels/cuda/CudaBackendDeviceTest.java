package io.peregrine.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.peregrine.kernels.check.GoldenTextCheck;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * CudaBackend on a real device: the golden tiny checkpoint's text logits through the model (every Backend operation is
 * checked against scalar references by the engine's BackendContractTest, which finds the CUDA provider on the class
 * path where a device is present). Surefire excludes the tag (CI has no GPU);
 * {@code scripts/gpu-check.sh run} runs the same check from the carried jars (the device machine has no Maven).
 */
@Tag("gpu")
class CudaBackendDeviceTest {

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
