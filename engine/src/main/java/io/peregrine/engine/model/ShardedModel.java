package io.peregrine.engine.model;

import io.peregrine.engine.backend.TokenCounts;
import io.peregrine.engine.config.TextConfig;
import io.peregrine.engine.dist.Communicator;
import io.peregrine.engine.kv.LatentCache;
import java.util.List;

/**
 * Rank 0 of a sharded model, as the engine drives it: every cache it allocates and every step it runs is first
 * broadcast to the workers ({@link ShardWorker}), which run the same step on their shards; the step's collectives
 * then meet inside the forward. A worker that died fails the step with the communicator's error (naming the rank and
 * its pid) within milliseconds, which the engine turns into failed requests. {@link #close} stops the workers.
 */
public final class ShardedModel implements LanguageModel, AutoCloseable {
    private final KimiTextModel rank0;
    private final StepBroadcast broadcast;
    private boolean closed;

    public ShardedModel(KimiTextModel rank0, Communicator comm) {
        if (comm.rank() != 0) {
            throw new IllegalArgumentException("the serving rank is rank 0, not " + comm.rank());
        }
        this.rank0 = rank0;
        this.broadcast = new StepBroadcast(comm, rank0.config().hiddenSize());
    }

    @Override
    public TextConfig config() {
        return rank0.config();
    }

    @Override
    public LatentCache newCache(int blocks, int blockSize) {
        broadcast.sendCache(blocks, blockSize);
        return rank0.newCache(blocks, blockSize);
    }

    @Override
    public List<float[][]> forward(List<SequenceSlice> batch, LatentCache cache) {
        broadcast.sendStep(batch);
        return rank0.forward(batch, cache);
    }

    @Override
    public StepLogits step(List<SequenceSlice> batch, LatentCache cache) {
        broadcast.sendStep(batch);
        return rank0.step(batch, cache);
    }

    @Override
    public TokenCounts tokenCounts(int[] prompt, int promptLength) {
        return rank0.tokenCounts(prompt, promptLength);
    }

    /** Tells the workers to return (they then leave the group); the communicator stays the caller's to close. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            broadcast.sendStop();
        }
    }
}
