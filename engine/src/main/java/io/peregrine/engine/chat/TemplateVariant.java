package io.peregrine.engine.chat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * The chat templates this renderer reproduces. They differ only in K2.6's {@code preserve_thinking} flag and its
 * reading of {@code reasoning} as an alias of {@code reasoning_content} (golden README §6).
 */
public enum TemplateVariant {
    K25_OFFICIAL("chat_template.jinja"),
    K26_OFFICIAL("chat_template.k26.jinja");

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
