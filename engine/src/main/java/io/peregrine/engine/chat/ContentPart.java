package io.peregrine.engine.chat;

import java.util.Objects;

/** One part of a message's content, as OpenAI's list content has them. */
public sealed interface ContentPart {
    record Text(String text) implements ContentPart {
        public Text {
            Objects.requireNonNull(text, "text");
        }
    }

    /** An image (OpenAI {@code image_url}, or {@code image}); the URL is what the vision pipeline loads. */
    record Image(String url) implements ContentPart {}

    /** A video (OpenAI-style {@code video_url}, or {@code video}). */
    record Video(String url) implements ContentPart {}

    /**
     * A part type the template does not know (e.g. {@code input_audio}): it renders as its {@code text} field,
     * which such parts usually lack, exactly like the reference template.
     */
    record Other(String type, String text) implements ContentPart {}
}
