package io.peregrine.engine.constrain;

import java.util.List;

/** What a constrained choice must call: OpenAI's {@code tool_choice} {@code required} or a named function. */
public sealed interface ToolCallRule {

    /**
     * Exactly one call of {@code name}, with id {@code functions.NAME:callIndex}.
     *
     * @param callIndex tool calls earlier in the conversation (Kimi numbers call ids across the whole history)
     */
    record Named(String name, int callIndex) implements ToolCallRule {
        public Named {
            if (name == null || name.isEmpty()) {
                throw new IllegalArgumentException("the named function has no name");
            }
            if (callIndex < 0) {
                throw new IllegalArgumentException("callIndex must be >= 0, got " + callIndex);
            }
        }
    }

    /**
     * At least one call, each to one of {@code names} (the call index digits are the model's).
     *
     * @param parallel false: exactly one call (OpenAI's {@code parallel_tool_calls: false})
     */
    record Required(List<String> names, boolean parallel) implements ToolCallRule {
        public Required {
            names = List.copyOf(names);
            if (names.isEmpty()) {
                throw new IllegalArgumentException("tool_choice 'required' needs at least one declared function");
            }
        }
    }
}
