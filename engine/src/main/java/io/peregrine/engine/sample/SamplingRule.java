package io.peregrine.engine.sample;

/**
 * How one choice turns logits into a token (vLLM's order: repetition, frequency and presence penalties; then greedy,
 * or temperature, min_p, top_k, top_p and one draw). The part of a request's sampling parameters a backend sees.
 */
public record SamplingRule(double temperature, double topP, int topK, double minP, double presencePenalty,
                           double frequencyPenalty, double repetitionPenalty) {

    public boolean greedy() {
        return temperature <= 0.0;
    }

    /** Any penalty that reads the token counts. */
    public boolean penalised() {
        return repetitionPenalty != 1.0 || frequencyPenalty != 0.0 || presencePenalty != 0.0;
    }
}
