package io.peregrine.engine.config;

import java.util.List;
import java.util.Optional;

/**
 * A checkpoint's {@code config.json}: a {@code kimi_k25} multimodal config, or a text-only DeepSeek-V3 / Kimi-K2
 * one (then {@code modelType} is that config's type and there is no vision part), plus the optional
 * {@code generation_config.json} and {@code preprocessor_config.json} beside it.
 *
 * @param eosTokenIds every id that ends generation: the config's eos plus {@code generation_config.json}'s
 *                    (K2.5 says [EOS] in one and {@code <|im_end|>} in the other; spec §1.1)
 * @param mediaPlaceholderTokenId {@code <|media_pad|>}, or -1 for a text-only model
 * @param vision       the vision tower and projector; empty for a text-only model
 * @param quantization which text-model Linear modules are stored quantized; empty for an all-bf16 checkpoint
 * @param generation   generation_config.json, or {@link GenerationConfig#ABSENT}
 * @param preprocessor preprocessor_config.json's {@code media_proc_cfg}, or {@link PreprocessorConfig#DEFAULTS}
 */
public record ModelConfig(
        String modelType,
        TextConfig text,
        int bosTokenId,
        List<Integer> eosTokenIds,
        int padTokenId,
        int mediaPlaceholderTokenId,
        Optional<VisionConfig> vision,
        Optional<QuantizationConfig> quantization,
        GenerationConfig generation,
        PreprocessorConfig preprocessor) {

    public ModelConfig {
        eosTokenIds = List.copyOf(eosTokenIds);
    }

    /** A text-only, unquantized config without the optional files (the shape of this record before vision support). */
    public ModelConfig(String modelType, TextConfig text, int bosTokenId, List<Integer> eosTokenIds, int padTokenId,
                       int mediaPlaceholderTokenId) {
        this(modelType, text, bosTokenId, eosTokenIds, padTokenId, mediaPlaceholderTokenId, Optional.empty(),
                Optional.empty(), GenerationConfig.ABSENT, PreprocessorConfig.DEFAULTS);
    }

    public boolean isMultimodal() {
        return mediaPlaceholderTokenId >= 0;
    }

    /** Whether the text-model Linear module {@code module} is stored quantized (false without a quantization config). */
    public boolean isQuantized(String module) {
        return quantization.map(q -> q.isQuantized(module)).orElse(false);
    }
}
