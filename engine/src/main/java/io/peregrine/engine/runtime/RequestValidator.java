package io.peregrine.engine.runtime;

import io.peregrine.engine.kv.BlockManager;
import io.peregrine.engine.sample.SamplingParams;
import io.peregrine.engine.sched.MediaSpan;
import io.peregrine.engine.sched.PendingMedia;

/** Checks at submission what the engine could otherwise only discover by failing later. */
final class RequestValidator {
    private RequestValidator() {}

    /**
     * @throws RejectedException {@code TOO_LARGE} when prompt plus max_tokens exceeds the context or the whole cache
     * @throws IllegalArgumentException for token ids outside the vocabulary, sampling values out of range, or media
     *                                  spans that overlap, leave the prompt or have rows of the wrong width
     */
    static void validate(GenerationRequest r, int maxModelLen, BlockManager blocks, int vocabSize, int hiddenSize)
            throws RejectedException {
        MediaSpan.checkLayout(r.media(), r.promptLength(), hiddenSize);
        PendingMedia pending = r.pendingMedia();
        if (pending != null) {
            if (pending.hidden() != hiddenSize) {
                throw new IllegalArgumentException("pending media have rows of " + pending.hidden()
                        + " floats; the model's hidden size is " + hiddenSize);
            }
            int prevEnd = r.media().isEmpty() ? 0 : r.media().getLast().end();
            for (int i = 0; i < pending.slots().size(); i++) {
                PendingMedia.Slot s = pending.slots().get(i);
                if (s.start() < prevEnd) {
                    throw new IllegalArgumentException("pending media item " + i + " starts at " + s.start()
                            + ", inside or before the item before it (ends at " + prevEnd + ")");
                }
                if (s.end() > r.promptLength()) {
                    throw new IllegalArgumentException("pending media item " + i + " covers positions " + s.start()
                            + ".." + (s.end() - 1) + " of a prompt of " + r.promptLength());
                }
                prevEnd = s.end();
            }
        }
        SamplingParams p = r.sampling();
        int total = r.promptLength() + p.maxTokens();
        if (total > maxModelLen) {
            throw new RejectedException(RejectedException.Kind.TOO_LARGE, "prompt (" + r.promptLength()
                    + " tokens) plus max_tokens (" + p.maxTokens() + ") exceeds the context length of "
                    + maxModelLen);
        }
        if (blocks.blocksFor(total) > blocks.totalBlocks()) {
            throw new RejectedException(RejectedException.Kind.TOO_LARGE, "prompt plus max_tokens (" + total
                    + " tokens) exceeds the KV cache (" + (long) blocks.totalBlocks() * blocks.blockSize()
                    + " tokens)");
        }
        for (int id : r.promptIds()) {
            if (id < 0 || id >= vocabSize) {
                throw new IllegalArgumentException("prompt token id " + id + " is outside the vocabulary [0, "
                        + vocabSize + ")");
            }
        }
        if (p.logprobs() > 20) {
            throw new IllegalArgumentException("logprobs must be at most 20, got " + p.logprobs());
        }
        if (p.temperature() < 0 || p.topP() <= 0 || p.topP() > 1 || p.minP() < 0 || p.minP() > 1
                || p.repetitionPenalty() <= 0) {
            throw new IllegalArgumentException("sampling parameters out of range: " + p);
        }
        for (String s : p.stop()) {
            if (s.isEmpty()) {
                throw new IllegalArgumentException("empty stop string");
            }
        }
    }
}
