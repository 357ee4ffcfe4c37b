package io.peregrine.engine.chat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * The chat templates this renderer reproduces. K2.6 differs from K2.5 only in its {@code preserve_thinking} flag and
 * its reading of {@code reasoning} as an alias of {@code reasoning_content} (golden README §6).
 */
public enum TemplateVariant {
    K25_OFFICIAL("chat_template.jinja"),
    K26_OFFICIAL("chat_template.k26.jinja"),
    /**
     * The research reconstruction of K2.5 (K2-Thinking style): the official template plus a default system prompt
     * when the conversation does not start with a system message. Only used when a checkpoint ships exactly it.
     */
    K25_RECONSTRUCTED("chat_template.k25_reconstructed.jinja");

    private final String resource;

    TemplateVariant(String resource) {
        this.resource = resource;
    }

    /** The bundled template text. */
    public String source() {
        String path = "/io/peregrine/engine/kimi-k25/" + resource;
        try (InputStream in = TemplateVariant.class.getResourceAsStream(path)) {
            if (in == null) {
                throw new IllegalStateException("bundled chat template missing: " + path);
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read bundled chat template " + path, e);
        }
    }

    /** The variant whose template equals {@code jinja} (ignoring surrounding whitespace and CRLF line ends). */
    public static Optional<TemplateVariant> identify(String jinja) {
        String wanted = normalize(jinja);
        for (TemplateVariant v : values()) {
            if (normalize(v.source()).equals(wanted)) {
                return Optional.of(v);
            }
        }
        return Optional.empty();
    }

    private static String normalize(String s) {
        return s.replace("\r\n", "\n").strip();
    }
}
