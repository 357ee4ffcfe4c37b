package io.peregrine.engine.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.backend.Backend;
import io.peregrine.engine.backend.BackendProvider;
import io.peregrine.engine.backend.Backends;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class CpuBackendProviderTest {

    @Test
    void theCpuProviderHasABatchInvariantMode() {
        BackendProvider cpu = Backends.select("cpu");
        try (Backend plain = cpu.create(); Backend invariant = cpu.createBatchInvariant()) {
            assertFalse(((CpuBackend) plain).batchInvariant());
            assertTrue(((CpuBackend) invariant).batchInvariant());
        }
    }

    @Test
    void aProviderWithoutOneRefusesInsteadOfIgnoringTheRequest() {
        BackendProvider other = new BackendProvider() {
            public String name() {
                return "other";
            }

            public int priority() {
                return 0;
            }

            public Optional<String> unavailableReason() {
                return Optional.empty();
            }

            public Backend create() {
                throw new AssertionError("not this one");
            }
        };
        assertEquals("the other backend has no batch-invariant mode",
                assertThrows(UnsupportedOperationException.class, other::createBatchInvariant).getMessage());
    }
}
