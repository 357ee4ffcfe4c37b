package io.peregrine.engine.chat;

/**
 * Template switches.
 *
 * @param thinking         the resolved thinking switch (see {@link ThinkingSwitch}); default on
 * @param preserveThinking K2.6 only: keep the reasoning of every earlier assistant turn
 */
public record RenderOptions(boolean addGenerationPrompt, boolean thinking, boolean preserveThinking) {
    public static RenderOptions defaults() {
        return new RenderOptions(true, true, false);
    }

    public RenderOptions withThinking(boolean on) {
        return new RenderOptions(addGenerationPrompt, on, preserveThinking);
    }
}
