package io.peregrine.engine.checkpoint;

import io.peregrine.engine.config.ModelConfig;
import io.peregrine.engine.config.TextConfig;
import io.peregrine.engine.kv.KvCacheGeometry;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * Sizes that follow from a config alone: parameter counts, stored bytes per dtype and the KV cache footprint.
 * An INT4 weight counts its logical {@code out * in} parameters; its scales are storage, not parameters.
 *
 * @param textParameters   every text-model parameter (all experts)
 * @param activeParameters text parameters one token uses: everything but the routed experts, plus top-k of them
 *                         per MoE layer (embedding and lm_head included, as the model card counts them)
 * @param visionParameters vision tower and projector
 * @param bytesByDtype     stored bytes of every tensor, by dtype
 * @param kvBytesPerToken  MLA latent cache in bf16: {@code (kv_lora_rank + qk_rope_head_dim) * 2} per layer
 * @param maxSequenceTokens {@code max_position_embeddings}
 */
public record ModelSize(long textParameters, long activeParameters, long visionParameters,
                        Map<DType, Long> bytesByDtype, long kvBytesPerToken, long maxSequenceTokens) {

    public ModelSize {
        bytesByDtype = Collections.unmodifiableMap(new EnumMap<>(bytesByDtype));
    }

    public static ModelSize of(ModelConfig config) {
        return of(config, CheckpointLayout.of(config));
    }

    public static ModelSize of(ModelConfig config, List<TensorSpec> layout) {
        TextConfig t = config.text();
        long text = 0;
        long routed = 0;
        long vision = 0;
        Map<DType, Long> bytes = new EnumMap<>(DType.class);
        for (TensorSpec s : layout) {
            bytes.merge(s.dtype(), s.byteSize(), Long::sum);
            if (s.isVision()) {
                vision += s.parameters();
            } else {
                text += s.parameters();
                if (s.routedExpert()) {
                    routed += s.parameters();
                }
            }
        }
        long active = text - routed;
        if (t.nRoutedExperts() > 0) {
            // Every routed expert has the same size, so top-k of n runs k/n of them (exact: routed is a multiple of n).
            active += routed / t.nRoutedExperts() * t.numExpertsPerTok();
        }
        long kv = KvCacheGeometry.of(t, DType.BF16.bytes(), 1).bytesPerToken();
        return new ModelSize(text, active, vision, bytes, kv, t.maxPositionEmbeddings());
    }

    public long totalParameters() {
        return textParameters + visionParameters;
    }

    public long totalBytes() {
        return bytesByDtype.values().stream().mapToLong(Long::longValue).sum();
    }

    public long kvBytesPerSequence() {
        return kvBytesPerToken * maxSequenceTokens;
    }
}
