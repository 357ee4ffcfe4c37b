package io.peregrine.engine.model;

import io.peregrine.engine.backend.Activation;
import io.peregrine.engine.backend.LinearWeight;
import io.peregrine.engine.backend.MoeBlock;
import java.util.List;

/** One decoder layer's weights as the backend holds them; norm gains as backend vectors, the router bias on the host. */
record LayerWeights(
        Activation inputNorm,
        Activation postAttentionNorm,
        Attention attention,
        FeedForward feedForward) {

    /** MLA projections (spec §3.2); {@code qA}/{@code qANorm}/{@code qB} are null when there is no q LoRA ({@code q} set). */
    record Attention(LinearWeight q, LinearWeight qA, Activation qANorm, LinearWeight qB, LinearWeight kvA,
                     Activation kvANorm, LinearWeight kvB, LinearWeight o) {}

    /** A dense SwiGLU MLP or a routed MoE. */
    sealed interface FeedForward permits Dense, Moe {}

    record Dense(LinearWeight gate, LinearWeight up, LinearWeight down) implements FeedForward {}

    /**
     * @param correctionBias the router's score bias on the host, for the layers routed there (experts on two backends)
     * @param shared         the shared experts fused as one SwiGLU (null when there are none)
     * @param block          the layer as one {@code Backend.moe} operation, routed on the primary backend; null when
     *                       some of this rank's experts live on the host backend ({@link ExpertPlacement})
     */
    record Moe(LinearWeight router, float[] correctionBias, List<Dense> experts, Dense shared, MoeBlock block)
            implements FeedForward {}
}
