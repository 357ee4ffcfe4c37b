package io.peregrine.engine.config;

import java.util.List;

/**
 * A checkpoint's {@code config.json}: a {@code kimi_k25} multimodal config, or a text-only DeepSeek-V3 / Kimi-K2
 * one (then {@code modelType} is that config's type and there is no vision part).
 *
 * @param eosTokenIds every id that ends generation: the config's eos plus {@code generation_config.json}'s
 *                    (K2.5 says [EOS] in one and {@code <|im_end|>} in the other; spec §1.1)
 * @param mediaPlaceholderTokenId {@code <|media_pad|>}, or -1 for a text-only model
 */
public record ModelConfig(
        String modelType,
        TextConfig text,
        int bosTokenId,
        List<Integer> eosTokenIds,
        int padTokenId,
        int mediaPlaceholderTokenId) {

    public ModelConfig {
        eosTokenIds = List.copyOf(eosTokenIds);
    }

    public boolean isMultimodal() {
        return mediaPlaceholderTokenId >= 0;
    }
}
