package io.peregrine.engine.sample;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Stop strings over decoded text (how split UTF-8 characters become text: ChoiceOutputTest). */
class StopStringsTest {

    @Test
    void withoutStopStringsEverythingIsReleasedAtOnce() {
        StopStrings s = new StopStrings(List.of());
        assertEquals("€x", s.push("€x").text());
        assertEquals("😀", s.push("😀").text());
        assertEquals("", s.flush());
    }

    @Test
    void aStopStringAcrossTokensIsCutAndNothingAfterItIsSent() {
        StopStrings s = new StopStrings(List.of("abc"));
        assertEquals("x", s.push("xa").text(), "a possible start of the stop string is held");
        assertEquals("", s.push("b").text());
        StopStrings.Release r = s.push("cdef");
        assertEquals("", r.text());
        assertEquals("abc", r.stop());
        assertEquals("", s.flush());
        assertThrows(IllegalStateException.class, () -> s.push("more"));
    }

    @Test
    void aFalseStartIsReleasedOnceItCannotBeAStop() {
        StopStrings s = new StopStrings(List.of("abc"));
        assertEquals("", s.push("ab").text());
        StopStrings.Release r = s.push("x");
        assertEquals("abx", r.text());
        assertNull(r.stop());
        assertEquals("a", s.push("aa").text());
        assertEquals("a", s.flush(), "the end releases what was held");
    }

    @Test
    void theEarliestStopWinsAndAStopInsideOneTokenCutsIt() {
        StopStrings s = new StopStrings(List.of("world", "lo w"));
        StopStrings.Release r = s.push("hello world");
        assertEquals("hel", r.text());
        assertEquals("lo w", r.stop());
    }

    @Test
    void aStopStringWithMultiByteCharactersMatchesAcrossPieces() {
        StopStrings s = new StopStrings(List.of("é!"));
        assertEquals("ab", s.push("ab").text());
        assertEquals("", s.push("é").text());
        StopStrings.Release r = s.push("!");
        assertEquals("", r.text());
        assertEquals("é!", r.stop());
    }

    @Test
    void aHeldSurrogatePairIsNeverSplit() {
        StopStrings s = new StopStrings(List.of("\uDE00x"));
        // the low surrogate could begin the stop string; its high surrogate stays with it
        assertEquals("a", s.push("a😀").text());
        assertEquals("😀y", s.push("y").text());
    }
}
