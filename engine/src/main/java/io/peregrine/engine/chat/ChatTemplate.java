package io.peregrine.engine.chat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A checkpoint's chat template, rendered the way transformers' {@code apply_chat_template} renders it. The
 * templates Moonshot ships (K2.5, K2.6, and the K2.5 reconstruction) are recognised by their source and rendered
 * natively ({@link KimiTemplate}, the fast path); any other {@code chat_template.jinja} (a revised or fine-tuned
 * derivative, or {@code --chat-template FILE}) is rendered by a real Jinja engine ({@link JinjaTemplate}).
 */
public sealed interface ChatTemplate permits KimiTemplate, JinjaTemplate {

    /** The native renderer of a known template. */
    static ChatTemplate of(TemplateVariant variant) {
        return new KimiTemplate(variant);
    }

    /**
     * The template whose Jinja source is {@code jinja}: native when it is a known one, else compiled by the Jinja
     * engine (a syntax error fails here, at startup, with {@code origin} in the message).
     */
    static ChatTemplate fromSource(String jinja, String origin) {
        return TemplateVariant.identify(jinja).<ChatTemplate>map(KimiTemplate::new)
                .orElseGet(() -> JinjaTemplate.compile(jinja, origin));
    }

    /** {@code chat_template.jinja} of a checkpoint directory. */
    static ChatTemplate fromCheckpoint(Path dir) {
        Path file = dir.resolve("chat_template.jinja");
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("chat template missing: " + file.toAbsolutePath());
        }
        return fromFile(file);
    }

    /** A template file ({@code --chat-template FILE}). */
    static ChatTemplate fromFile(Path file) {
        try {
            return fromSource(Files.readString(file), file.toString());
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read chat template " + file.toAbsolutePath() + ": "
                    + e.getMessage(), e);
        }
    }

    /**
     * Renders the conversation. With {@link RenderOptions#continueFinalMessage()} the prompt ends inside the final
     * assistant message ({@link AssistantPrefill}); otherwise the template's own output, with its generation
     * prompt when asked.
     *
     * @throws IllegalArgumentException when the conversation cannot be rendered (the message is for the client)
     */
    default RenderedPrompt render(List<ChatMessage> messages, List<Tool> tools, RenderOptions options) {
        if (messages.isEmpty()) {
            throw new IllegalArgumentException("messages must not be empty");
        }
        return options.continueFinalMessage() ? AssistantPrefill.render(this, messages, tools, options)
                : renderTemplate(messages, tools, options);
    }

    /** The template's output for the whole conversation, honouring {@link RenderOptions#addGenerationPrompt()}. */
    RenderedPrompt renderTemplate(List<ChatMessage> messages, List<Tool> tools, RenderOptions options);

    /** What renders this template, for logs and /v1/models: "native K25_OFFICIAL" or "jinja FILE". */
    String describe();
}
