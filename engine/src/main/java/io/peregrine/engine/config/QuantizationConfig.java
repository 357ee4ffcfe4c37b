package io.peregrine.engine.config;

import java.util.List;

/**
 * {@code quantization_config}: which Linear modules of the text model are stored quantized and how. K2.5 puts it in
 * {@code text_config} (the top level may lack it); module names are relative to the text model
 * ({@code model.layers.3.mlp.experts.7.up_proj}, {@code lm_head}), as compressed-tensors saw them when it
 * compressed the checkpoint.
 *
 * @param quantMethod {@code compressed-tensors} or {@code fp8}
 * @param targets     module kinds the scheme applies to (K2.5: {@code ["Linear"]})
 * @param ignore      modules left unquantized even though they are targets
 */
public record QuantizationConfig(String quantMethod, WeightFormat format, List<String> targets, List<IgnoreRule> ignore) {

    /** The prefix K2.5 checkpoints put before every text-model tensor name. */
    public static final String LANGUAGE_MODEL_PREFIX = "language_model.";

    public QuantizationConfig {
        targets = List.copyOf(targets);
        ignore = List.copyOf(ignore);
    }

    /**
     * Whether the Linear module {@code module} is stored quantized. A leading {@code language_model.} is stripped
     * first, so both checkpoint names and text-model names work.
     */
    public boolean isQuantized(String module) {
        String name = module.startsWith(LANGUAGE_MODEL_PREFIX) ? module.substring(LANGUAGE_MODEL_PREFIX.length()) : module;
        for (IgnoreRule rule : ignore) {
            if (rule.matches(name)) {
                return false;
            }
        }
        return true;
    }
}
