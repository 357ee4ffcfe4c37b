package io.peregrine.engine.config;

/**
 * The DeepSeek-V3 / Kimi-K2 text decoder's hyper-parameters ({@code text_config} of K2.5, or the top level of a
 * text-only K2 config). Names follow config.json; see spec §1.2.
 *
 * @param qLoraRank 0 when the checkpoint has no q LoRA path (q_proj instead of q_a/q_b)
 */
public record TextConfig(
        int vocabSize,
        int hiddenSize,
        int intermediateSize,
        int moeIntermediateSize,
        int numHiddenLayers,
        int numAttentionHeads,
        int qLoraRank,
        int kvLoraRank,
        int qkNopeHeadDim,
        int qkRopeHeadDim,
        int vHeadDim,
        int nRoutedExperts,
        int nSharedExperts,
        int numExpertsPerTok,
        int firstKDenseReplace,
        int moeLayerFreq,
        int nGroup,
        int topkGroup,
        boolean normTopkProb,
        double routedScalingFactor,
        String scoringFunc,
        String topkMethod,
        double rmsNormEps,
        double ropeTheta,
        RopeScaling ropeScaling,
        int maxPositionEmbeddings,
        int bosTokenId,
        int eosTokenId,
        int padTokenId,
        boolean tieWordEmbeddings) {

    public int qkHeadDim() {
        return qkNopeHeadDim + qkRopeHeadDim;
    }

    /** Layer {@code l} uses the routed-expert MoE (else the dense SwiGLU MLP). */
    public boolean isMoeLayer(int l) {
        return nRoutedExperts > 0 && l >= firstKDenseReplace && l % moeLayerFreq == 0;
    }

    /** Values cached per token per layer: the normalised latent plus the shared rope key (spec §3.2). */
    public int kvCacheWidth() {
        return kvLoraRank + qkRopeHeadDim;
    }
}
