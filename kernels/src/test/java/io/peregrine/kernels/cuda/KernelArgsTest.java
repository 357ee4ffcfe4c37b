package io.peregrine.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class KernelArgsTest {

    @Test
    void javaTypesMapOntoTheKernelParameterTypes() {
        assertEquals("(void*, int, long long, float)", KernelArgs.signature(KernelArgs.NULL, 3, 4L, 1.5f));
    }

    @Test
    void unsupportedOrNullArgumentsAreRefusedWithTheirPosition() {
        var e = assertThrows(IllegalArgumentException.class, () -> KernelArgs.encode(2.0));
        assertTrue(e.getMessage().contains("argument 0") && e.getMessage().contains("Double"), e.getMessage());
        var n = assertThrows(IllegalArgumentException.class, () -> KernelArgs.encode((Object) null));
        assertTrue(n.getMessage().contains("KernelArgs.NULL"), n.getMessage());
    }

    @Test
    void kernelSymbolsFollowTheCNames() {
        assertEquals("pg_int4_grouped_gemv", KernelName.INT4_GROUPED_GEMV.symbol());
        assertEquals("pg_mla_decode_partial", KernelName.MLA_DECODE_PARTIAL.symbol());
    }
}
