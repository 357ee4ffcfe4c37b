package io.peregrine.engine.model;

import io.peregrine.engine.backend.TokenCounts;
import io.peregrine.engine.config.TextConfig;
import io.peregrine.engine.dist.Communicator;
import io.peregrine.engine.dist.CommunicatorException;
import io.peregrine.engine.kv.LatentCache;
import java.util.List;
import java.util.function.Consumer;

/**
 * Rank 0 of a sharded model, as the engine drives it: every cache it allocates and every step it runs is first
 * broadcast to the workers ({@link ShardWorker}), which run the same step on their shards; the step's collectives
 * then meet inside the forward. A worker that died fails the step with the communicator's error (naming the rank and
 * its pid) within milliseconds, which the engine turns into failed requests; the failure is also handed to the
 * group's owner ({@code onGroupFailure}), since after it the model can no longer run at all and the server must say
 * so. {@link #close} stops the workers.
 */
public final class ShardedModel implements LanguageModel, AutoCloseable {
    private final KimiTextModel rank0;
    private final StepBroadcast broadcast;
    private final Consumer<CommunicatorException> onGroupFailure;
    private boolean closed;

    public ShardedModel(KimiTextModel rank0, Communicator comm) {
        this(rank0, comm, e -> { });
    }

    /** @param onGroupFailure told (on the engine thread) when a step fails because the group broke, before it throws */
    public ShardedModel(KimiTextModel rank0, Communicator comm, Consumer<CommunicatorException> onGroupFailure) {
        if (comm.rank() != 0) {
            throw new IllegalArgumentException("the serving rank is rank 0, not " + comm.rank());
        }
        this.rank0 = rank0;
        this.broadcast = new StepBroadcast(comm, rank0.config().hiddenSize());
        this.onGroupFailure = onGroupFailure;
    }

    @Override
    public TextConfig config() {
        return rank0.config();
    }

    @Override
    public LatentCache newCache(int blocks, int blockSize) {
        try {
            broadcast.sendCache(blocks, blockSize);
            return rank0.newCache(blocks, blockSize);
        } catch (CommunicatorException e) {
            onGroupFailure.accept(e);
            throw e;
        }
    }

    @Override
    public List<float[][]> forward(List<SequenceSlice> batch, LatentCache cache) {
        try {
            broadcast.sendStep(batch);
            return rank0.forward(batch, cache);
        } catch (CommunicatorException e) {
            onGroupFailure.accept(e);
            throw e;
        }
    }

    @Override
    public StepLogits step(List<SequenceSlice> batch, LatentCache cache) {
        try {
            broadcast.sendStep(batch);
            return rank0.step(batch, cache);
        } catch (CommunicatorException e) {
            onGroupFailure.accept(e);
            throw e;
        }
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
