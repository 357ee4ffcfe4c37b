package io.peregrine.engine.sample;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class StopStringsTest {
    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void aCharacterSplitAcrossTokensIsSentWhole() {
        StopStrings s = new StopStrings(List.of());
        byte[] euro = b("€");
        assertEquals("", s.push(new byte[] {euro[0]}).text());
        assertEquals("", s.push(new byte[] {euro[1]}).text());
        assertEquals("€x", s.push(new byte[] {euro[2], 'x'}).text());
        assertEquals("", s.push(new byte[] {(byte) 0xC3}).text());
        assertEquals("é", s.push(new byte[] {(byte) 0xA9}).text());
        assertEquals("😀", s.push(b("😀")).text());
    }

    @Test
    void aStopStringAcrossTokensIsCutAndNothingAfterItIsSent() {
        StopStrings s = new StopStrings(List.of("abc"));
        assertEquals("x", s.push(b("xa")).text(), "a possible start of the stop string is held");
        assertEquals("", s.push(b("b")).text());
        StopStrings.Release r = s.push(b("cdef"));
        assertEquals("", r.text());
        assertEquals("abc", r.stop());
        assertEquals("", s.flush());
        assertThrows(IllegalStateException.class, () -> s.push(b("more")));
    }

    @Test
    void aFalseStartIsReleasedOnceItCannotBeAStop() {
        StopStrings s = new StopStrings(List.of("abc"));
        assertEquals("", s.push(b("ab")).text());
        StopStrings.Release r = s.push(b("x"));
        assertEquals("abx", r.text());
        assertNull(r.stop());
        assertEquals("a", s.push(b("aa")).text());
        assertEquals("a", s.flush(), "the end releases what was held");
    }

    @Test
    void theEarliestStopWinsAndAStopInsideOneTokenCutsIt() {
        StopStrings s = new StopStrings(List.of("world", "lo w"));
        StopStrings.Release r = s.push(b("hello world"));
        assertEquals("hel", r.text());
        assertEquals("lo w", r.stop());
    }

    @Test
    void aStopStringWithMultiByteCharactersMatchesAcrossSplitBytes() {
        StopStrings s = new StopStrings(List.of("é!"));
        assertEquals("ab", s.push(new byte[] {'a', 'b', (byte) 0xC3}).text());
        assertEquals("", s.push(new byte[] {(byte) 0xA9}).text());
        StopStrings.Release r = s.push(b("!"));
        assertEquals("", r.text());
        assertEquals("é!", r.stop());
    }

    @Test
    void anUnfinishedCharacterAtTheEndBecomesAReplacementCharacter() {
        StopStrings s = new StopStrings(List.of());
        assertEquals("a", s.push(new byte[] {'a', (byte) 0xE2, (byte) 0x82}).text());
        assertEquals("\uFFFD", s.flush());
        StopStrings bad = new StopStrings(List.of());
        assertEquals("\uFFFDz", bad.push(new byte[] {(byte) 0xFF, 'z'}).text());
    }
}
