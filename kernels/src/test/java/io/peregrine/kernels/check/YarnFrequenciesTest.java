package io.peregrine.kernels.check;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The device check rotates with K2.5's YaRN frequencies; they must be the spec's (§3.3 lists them). */
class YarnFrequenciesTest {

    @Test
    void matchTheSpecTable() {
        float[] f = KernelChecks.yarnInvFreq();
        assertEquals(32, f.length);
        assertEquals(1.0f, f[0], 1e-7f);
        assertEquals(7.131110849e-01f, f[1], 1e-7f);
        assertEquals(6.687403050e-02f, f[8], 1e-8f);
        assertEquals(4.377665595e-02f, f[9], 1e-8f);
        assertEquals(1.807023387e-05f, f[20], 1e-11f);
        assertEquals(4.382206456e-07f, f[31], 1e-13f);
    }
}
