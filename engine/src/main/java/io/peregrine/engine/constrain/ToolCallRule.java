package io.peregrine.engine.constrain;

import java.util.List;
import java.util.Set;

/**
 * What a constrained choice may or must call: OpenAI's {@code tool_choice} {@code auto}, {@code required} or a
 * named function. A function declared without parameters gets the arguments {@code {}} forced (the only call its
 * schema allows); every other function's arguments follow its grammar ({@link OutputGrammars}).
 */
public sealed interface ToolCallRule {

    /** The functions whose arguments are forced to {@code {}}. */
    Set<String> parameterless();

    /**
     * Exactly one call of {@code name}, with id {@code functions.NAME:callIndex}.
     *
     * @param callIndex tool calls earlier in the conversation (Kimi numbers call ids across the whole history)
     */
    record Named(String name, int callIndex, boolean takesNoArguments) implements ToolCallRule {
        public Named(String name, int callIndex) {
            this(name, callIndex, false);
        }

        @Override
        public Set<String> parameterless() {
            return takesNoArguments ? Set.of(name) : Set.of();
        }

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
     * At least one call, each to one of {@code names}; the k-th call (from 0) of the message gets id
     * {@code functions.NAME:(firstCallIndex + k)}.
     *
     * @param parallel       false: exactly one call (OpenAI's {@code parallel_tool_calls: false})
     * @param firstCallIndex tool calls earlier in the conversation
     */
    record Required(List<String> names, boolean parallel, Set<String> parameterless, int firstCallIndex)
            implements ToolCallRule {
        public Required(List<String> names, boolean parallel) {
            this(names, parallel, Set.of(), 0);
        }

        public Required {
            names = List.copyOf(names);
            parameterless = Set.copyOf(parameterless);
            if (firstCallIndex < 0) {
                throw new IllegalArgumentException("firstCallIndex must be >= 0, got " + firstCallIndex);
            }
            if (names.isEmpty()) {
                throw new IllegalArgumentException("tool_choice 'required' needs at least one declared function");
            }
        }
    }

    /**
     * Calls are optional (tool_choice auto): the model may answer in text instead, but a call it starts names one
     * of {@code names} with the conversation's next id and well-formed arguments. {@code names} may be empty: no
     * tools, only a response format to follow.
     *
     * @param parallel       false: at most one call
     * @param firstCallIndex tool calls earlier in the conversation
     */
    record Auto(List<String> names, boolean parallel, Set<String> parameterless, int firstCallIndex)
            implements ToolCallRule {
        public Auto {
            names = List.copyOf(names);
            parameterless = Set.copyOf(parameterless);
            if (firstCallIndex < 0) {
                throw new IllegalArgumentException("firstCallIndex must be >= 0, got " + firstCallIndex);
            }
        }
    }
}
