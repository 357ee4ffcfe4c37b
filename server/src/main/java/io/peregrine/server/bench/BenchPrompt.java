package io.peregrine.server.bench;

/**
 * One request's input.
 *
 * @param promptTokens the prompt's length as the dataset knows it (random prompts: their word count), used only
 *                     when the server reports no usage; -1 when unknown
 * @param maxTokens    the output length asked for
 */
public record BenchPrompt(String text, int promptTokens, int maxTokens) {
    public BenchPrompt {
        if (text == null || text.isEmpty()) {
            throw new IllegalArgumentException("empty prompt");
        }
        if (maxTokens < 1) {
            throw new IllegalArgumentException("output length must be >= 1, got " + maxTokens);
        }
    }
}
