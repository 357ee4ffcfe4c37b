package io.peregrine.engine.config;

import java.util.List;
import java.util.OptionalDouble;
import java.util.OptionalInt;

/**
 * {@code generation_config.json} (optional). K2.5's says only {@code eos_token_id} 163586 ({@code <|im_end|>}) and
 * {@code max_length}; the sampling defaults are absent there and then come from the request or the server.
 */
public record GenerationConfig(List<Integer> eosTokenIds, OptionalInt maxLength, OptionalDouble temperature,
                               OptionalDouble topP, OptionalInt topK) {

    /** What a checkpoint without generation_config.json gets. */
    public static final GenerationConfig ABSENT = new GenerationConfig(List.of(), OptionalInt.empty(),
            OptionalDouble.empty(), OptionalDouble.empty(), OptionalInt.empty());

    public GenerationConfig {
        eosTokenIds = List.copyOf(eosTokenIds);
    }
}
