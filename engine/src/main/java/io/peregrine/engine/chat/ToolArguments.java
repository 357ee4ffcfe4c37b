package io.peregrine.engine.chat;

import java.util.Objects;

/** A history tool call's arguments as the client sent them. */
public sealed interface ToolArguments {
    /** A JSON text (OpenAI's usual string form); rendered verbatim. */
    record Text(String json) implements ToolArguments {
        public Text {
            Objects.requireNonNull(json, "json");
        }
    }

    /** A JSON value (a map, list, ...) sent as an object; rendered with Python's {@code json.dumps}. */
    record Value(Object value) implements ToolArguments {}
}
