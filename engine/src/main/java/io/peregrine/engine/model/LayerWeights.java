package io.peregrine.engine.model;

import io.peregrine.engine.backend.LinearWeight;
import java.util.List;

/** One decoder layer's weights as the backend holds them; norm gains and the router bias as fp32 arrays. */
record LayerWeights(
        float[] inputNorm,
        float[] postAttentionNorm,
        Attention attention,
        FeedForward feedForward) {

    /** MLA projections (spec §3.2); {@code qA}/{@code qANorm}/{@code qB} are null when there is no q LoRA ({@code q} set). */
    record Attention(LinearWeight q, LinearWeight qA, float[] qANorm, LinearWeight qB, LinearWeight kvA,
                     float[] kvANorm, LinearWeight kvB, LinearWeight o) {}

    /** A dense SwiGLU MLP or a routed MoE. */
    sealed interface FeedForward permits Dense, Moe {}

    record Dense(LinearWeight gate, LinearWeight up, LinearWeight down) implements FeedForward {}

    /** @param shared the shared experts fused as one SwiGLU (null when there are none) */
    record Moe(LinearWeight router, float[] correctionBias, List<Dense> experts, Dense shared) implements FeedForward {}
}
