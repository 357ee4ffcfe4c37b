package io.peregrine.server.wiring;

import com.fasterxml.jackson.databind.JsonNode;
import io.peregrine.engine.constrain.ConstraintChain;
import io.peregrine.engine.constrain.OutputGrammars;
import io.peregrine.engine.constrain.ThinkingBudget;
import io.peregrine.engine.constrain.TokenBytesIndex;
import io.peregrine.engine.constrain.ToolCallConstraint;
import io.peregrine.engine.constrain.ToolCallRule;
import io.peregrine.engine.parse.ChoiceParser;
import io.peregrine.engine.parse.MarkerIds;
import io.peregrine.engine.parse.OutputParser;
import io.peregrine.engine.runtime.TokenConstraint;
import io.peregrine.engine.tokenizer.KimiTokenizer;
import io.peregrine.server.prompt.ChatInput;
import io.peregrine.server.prompt.InvalidPromptException;
import io.peregrine.server.prompt.OutputSpec;
import io.peregrine.server.prompt.ToolChoice;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * What one choice's output must obey, as a sampling constraint over Kimi's vocabulary (the tool-call rule for
 * tool_choice, strict tools and response_format; the thinking budget), and the parser that splits it.
 */
final class OutputConstraints {
    private final KimiTokenizer tokenizer;

    OutputConstraints(KimiTokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /** null when nothing constrains the output. */
    TokenConstraint.Factory of(ChatInput input, OutputSpec output) throws InvalidPromptException {
        // In instant mode there is no reasoning to cap: a budget holds trivially.
        TokenConstraint.Factory budget = output.thinkingBudget() == null || !output.thinking().enabled() ? null
                : ThinkingBudget.factory(vocabulary().markers(), output.thinkingBudget());
        // The budget applies last: it forces </think>, which a tool-call rule allows while reasoning.
        return ConstraintChain.of(toolConstraint(input, output), budget);
    }

    /** The engine splits each choice's output with Kimi's token-id parser, from where the output starts. */
    ChoiceParser.Factory parser(OutputSpec output) {
        return OutputParser.factory(vocabulary().markers(), output.thinking().enabled());
    }

    /**
     * What the output must obey, as a sampling constraint ({@link ToolCallConstraint}): tool_choice
     * {@code required} or a named function make the model call (one of) the declared functions once its reasoning
     * ends; under auto a call it starts is held to the declared names and ids. Every call's arguments follow the
     * function's grammar (its schema when strict, else any JSON object), and a response_format makes the answer
     * JSON. null when nothing constrains the output (no tools, or tool_choice none, and free text).
     */
    private TokenConstraint.Factory toolConstraint(ChatInput input, OutputSpec output) throws InvalidPromptException {
        List<String> declared = new ArrayList<>();
        Set<String> parameterless = new HashSet<>();
        for (io.peregrine.api.chat.Tool t : input.tools()) {
            declared.add(t.function().name());
            if (takesNoArguments(t.function().parameters())) {
                parameterless.add(t.function().name());
            }
        }
        OutputGrammars grammars = output.grammars();
        ToolCallRule rule = switch (input.toolChoice()) {
            case ToolChoice.Named n -> {
                if (!declared.contains(n.name())) {
                    throw new InvalidPromptException("tool_choice names function '" + n.name()
                            + "', which is not in 'tools'", "tool_choice");
                }
                yield new ToolCallRule.Named(n.name(), output.priorToolCalls(), parameterless.contains(n.name()));
            }
            case ToolChoice.Required r -> {
                if (declared.isEmpty()) {
                    throw new InvalidPromptException("tool_choice 'required' needs 'tools'", "tool_choice");
                }
                yield new ToolCallRule.Required(declared, output.parallelToolCalls(), parameterless,
                        output.priorToolCalls());
            }
            case ToolChoice.None none -> grammars.content() == null ? null
                    : new ToolCallRule.Auto(List.of(), false, Set.of(), output.priorToolCalls());
            case null, default -> declared.isEmpty() && grammars.content() == null ? null
                    : new ToolCallRule.Auto(declared, output.parallelToolCalls(), parameterless, output.priorToolCalls());
        };
        if (rule == null) {
            return null;
        }
        return ToolCallConstraint.factory(rule, grammars, vocabulary().markers(), vocabulary().tokens(),
                output.thinking().enabled()); // where the output starts: in reasoning or not (partial mode)
    }

    /**
     * A function that declares no parameters (no schema, or an object schema without properties): its only
     * faithful arguments are {@code {}}, which the constraint then forces instead of leaving them to the model.
     */
    static boolean takesNoArguments(JsonNode parameters) {
        if (parameters == null || parameters.isNull()) {
            return true;
        }
        JsonNode props = parameters.get("properties");
        return parameters.isObject() && (props == null || props.isObject() && props.isEmpty())
                && !parameters.has("additionalProperties") && !parameters.has("patternProperties")
                && !parameters.has("anyOf") && !parameters.has("oneOf") && !parameters.has("allOf")
                && !parameters.has("$ref");
    }

    /** The tokenizer's marker ids and token bytes, indexed on first use (163,840 tokens: tens of milliseconds). */
    private record Vocabulary(MarkerIds markers, TokenBytesIndex tokens) {}

    private volatile Vocabulary vocabulary;

    private Vocabulary vocabulary() {
        Vocabulary v = vocabulary;
        if (v == null) {
            synchronized (this) {
                v = vocabulary;
                if (v == null) {
                    v = new Vocabulary(MarkerIds.from(tokenizer),
                            TokenBytesIndex.of(tokenizer::tokenBytes, tokenizer.numRegularTokens()));
                    vocabulary = v;
                }
            }
        }
        return v;
    }
}
