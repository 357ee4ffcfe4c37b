package io.peregrine.engine.constrain;

import io.peregrine.engine.constrain.json.JsonGrammar;
import java.util.Map;

/**
 * The JSON a choice's output must follow: the message content ({@code response_format} json_object or
 * json_schema; null for free text) and the arguments of each strict function. A function without an entry gets
 * any JSON object as arguments ({@code {}} when it declares no parameters).
 */
public record OutputGrammars(JsonGrammar content, Map<String, JsonGrammar> arguments) {
    public static final OutputGrammars NONE = new OutputGrammars(null, Map.of());

    public OutputGrammars {
        arguments = Map.copyOf(arguments);
    }

    private static final JsonGrammar NO_ARGUMENTS = JsonGrammar.exactly("{}");

    JsonGrammar argumentsOf(String function, boolean parameterless) {
        JsonGrammar g = arguments.get(function);
        if (g != null) {
            return g;
        }
        return parameterless ? NO_ARGUMENTS : JsonGrammar.anyObject();
    }
}
