package io.peregrine.engine.chat;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ThinkingSwitchTest {
    @Test
    void defaultIsOn() {
        assertTrue(ThinkingSwitch.resolve(null, null, null));
        assertTrue(ThinkingSwitch.resolve(null, Map.of(), null));
    }

    @Test
    void everySpellingTurnsItOff() {
        assertFalse(ThinkingSwitch.resolve(Map.of("type", "disabled"), null, null));
        assertFalse(ThinkingSwitch.resolve(null, Map.of("thinking", false), null));
        assertFalse(ThinkingSwitch.resolve(null, Map.of("enable_thinking", false), null));
        assertFalse(ThinkingSwitch.resolve(null, Map.of("enable_thinking", "false"), null));
        assertFalse(ThinkingSwitch.resolve(null, Map.of("enable_thinking", "False"), null));
        assertFalse(ThinkingSwitch.resolve(null, null, false));
        assertFalse(ThinkingSwitch.resolve(null, null, "false"));
    }

    @Test
    void everySpellingTurnsItOn() {
        assertTrue(ThinkingSwitch.resolve(Map.of("type", "enabled"), null, null));
        assertTrue(ThinkingSwitch.resolve(null, Map.of("thinking", true), null));
        assertTrue(ThinkingSwitch.resolve(null, Map.of("enable_thinking", "true"), null));
        assertTrue(ThinkingSwitch.resolve(null, null, true));
    }

    @Test
    void agreeingSpellingsAreFineDisagreeingOnesAreNamed() {
        assertFalse(ThinkingSwitch.resolve(Map.of("type", "disabled"), Map.of("thinking", false), false));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ThinkingSwitch.resolve(Map.of("type", "enabled"), Map.of("thinking", false), null));
        assertTrue(e.getMessage().contains("chat_template_kwargs.thinking") && e.getMessage().contains("thinking.type"));
    }

    @Test
    void garbageIsRejectedWithTheFieldName() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ThinkingSwitch.resolve(Map.of("type", "maybe"), null, null));
        assertTrue(e.getMessage().contains("thinking.type"));
        e = assertThrows(IllegalArgumentException.class,
                () -> ThinkingSwitch.resolve(null, Map.of("enable_thinking", "perhaps"), null));
        assertTrue(e.getMessage().contains("chat_template_kwargs.enable_thinking"));
    }

    @Test
    void reasoningEffort() {
        assertFalse(ThinkingSwitch.resolve(null, null, null, "none"));
        assertTrue(ThinkingSwitch.resolve(null, null, null, "high"));
        assertThrows(IllegalArgumentException.class,
                () -> ThinkingSwitch.resolve(Map.of("type", "enabled"), null, null, "none"));
    }

    @Test
    void preserveThinking() {
        assertFalse(ThinkingSwitch.preserveThinking(null));
        assertTrue(ThinkingSwitch.preserveThinking(Map.of("preserve_thinking", true)));
        assertTrue(ThinkingSwitch.preserveThinking(Map.of("type", "enabled", "keep", "all"), null));
        assertFalse(ThinkingSwitch.preserveThinking(Map.of("type", "enabled"), null));
        assertThrows(IllegalArgumentException.class,
                () -> ThinkingSwitch.preserveThinking(Map.of("keep", "some"), null));
    }
}
