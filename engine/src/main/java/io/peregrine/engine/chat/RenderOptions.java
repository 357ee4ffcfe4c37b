package io.peregrine.engine.chat;

import java.util.Map;

/**
 * Template switches.
 *
 * @param thinking             the resolved thinking switch (see {@link ThinkingSwitch}); default on
 * @param preserveThinking     K2.6 only: keep the reasoning of every earlier assistant turn
 * @param continueFinalMessage the final (assistant) message is a prefix the model continues (Moonshot's
 *                             {@code partial}, vLLM's {@code continue_final_message}); see {@link AssistantPrefill}
 * @param templateKwargs       the client's {@code chat_template_kwargs}, as plain values; a Jinja-rendered template
 *                             sees them as variables (the native renderer needs none beyond the switches above)
 */
public record RenderOptions(boolean addGenerationPrompt, boolean thinking, boolean preserveThinking,
                            boolean continueFinalMessage, Map<String, Object> templateKwargs) {
    public RenderOptions {
        templateKwargs = templateKwargs == null ? Map.of() : templateKwargs;
    }

    public RenderOptions(boolean addGenerationPrompt, boolean thinking, boolean preserveThinking) {
        this(addGenerationPrompt, thinking, preserveThinking, false, Map.of());
    }

    public static RenderOptions defaults() {
        return new RenderOptions(true, true, false);
    }

    public RenderOptions withThinking(boolean on) {
        return new RenderOptions(addGenerationPrompt, on, preserveThinking, continueFinalMessage, templateKwargs);
    }

    public RenderOptions withGenerationPrompt(boolean on) {
        return new RenderOptions(on, thinking, preserveThinking, continueFinalMessage, templateKwargs);
    }

    public RenderOptions continuingFinalMessage(boolean on) {
        return new RenderOptions(addGenerationPrompt, thinking, preserveThinking, on, templateKwargs);
    }

    public RenderOptions withTemplateKwargs(Map<String, Object> kwargs) {
        return new RenderOptions(addGenerationPrompt, thinking, preserveThinking, continueFinalMessage, kwargs);
    }
}
