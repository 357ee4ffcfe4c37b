package io.peregrine.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.backend.Backend;
import io.peregrine.engine.backend.cpu.CpuBackend;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Selection logic of the CUDA provider with the driver probe and the backend factory stood in for. */
class CudaBackendProviderTest {

    @Test
    void aUsableDeviceCreatesTheBackendAndTheProbeRunsOnce() {
        AtomicInteger probes = new AtomicInteger();
        try (CpuBackend stand = new CpuBackend(1)) {
            CudaBackendProvider p = new CudaBackendProvider(() -> {
                probes.incrementAndGet();
                return Optional.empty();
            }, () -> stand);
            assertTrue(p.unavailableReason().isEmpty());
            Backend b = p.create();
            assertSame(stand, b);
            p.unavailableReason();
            assertEquals(1, probes.get(), "probed once per provider");
            assertEquals("cuda", p.name());
            assertTrue(p.priority() > new io.peregrine.engine.backend.cpu.CpuBackendProvider().priority(),
                    "auto prefers the GPU when it is usable");
        }
    }

    @Test
    void anUnusableDeviceNeverReachesTheFactory() {
        AtomicInteger created = new AtomicInteger();
        CudaBackendProvider p = new CudaBackendProvider(() -> Optional.of("no CUDA device"), () -> {
            created.incrementAndGet();
            throw new AssertionError("factory called");
        });
        var e = assertThrows(IllegalStateException.class, p::create);
        assertEquals("CUDA backend unavailable: no CUDA device", e.getMessage());
        assertEquals(0, created.get());
    }

    @Test
    void optionsChooseTheProductPathByTokenCount() {
        assertThrows(IllegalArgumentException.class, () -> new CudaBackend.Options(-1, false));
        assertTrue(!CudaBackend.Options.FP32.tensorCores(1_000_000), "the default never leaves fp32 products");
        CudaBackend.Options tc = new CudaBackend.Options(16, false);
        assertTrue(!tc.tensorCores(15) && tc.tensorCores(16));
    }
}
