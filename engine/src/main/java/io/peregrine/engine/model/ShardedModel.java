package io.peregrine.engine.model;

import io.peregrine.engine.backend.TokenCounts;
import io.peregrine.engine.config.TextConfig;
import io.peregrine.engine.dist.Communicator;
import io.peregrine.engine.dist.CommunicatorException;
import io.peregrine.engine.kv.LatentCache;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.logging.Logger;

/**
 * Rank 0 of a sharded model, as the engine drives it: every cache it allocates and every step it runs is first
 * broadcast to the workers ({@link ShardWorker}), which run the same step on their shards; the step's collectives
 * then meet inside the forward. A worker that died fails the step with the communicator's error (naming the rank and
 * its pid) within milliseconds, which the engine turns into failed requests; the failure is also handed to the
 * group's owner ({@code onGroupFailure}), since after it the model can no longer run at all and the server must say
 * so. {@link #close} stops the workers.
 */
public final class ShardedModel implements LanguageModel, AutoCloseable {
    private static final Logger LOG = Logger.getLogger(ShardedModel.class.getName());
    /** How often the step log reports rank 0's time in collectives. */
    private static final long LOG_EVERY_NANOS = TimeUnit.SECONDS.toNanos(10);
    private final KimiTextModel rank0;
    private final StepBroadcast broadcast;
    private final Consumer<CommunicatorException> onGroupFailure;
    private boolean closed;
    private long windowStart = System.nanoTime();
    private long windowSteps;
    private long windowStepNanos;
    private CollectiveTime windowCollectives = new CollectiveTime(0, 0);

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
            long t0 = System.nanoTime();
            broadcast.sendStep(batch);
            List<float[][]> out = rank0.forward(batch, cache);
            timed(t0);
            return out;
        } catch (CommunicatorException e) {
            onGroupFailure.accept(e);
            throw e;
        }
    }

    @Override
    public StepLogits step(List<SequenceSlice> batch, LatentCache cache) {
        try {
            long t0 = System.nanoTime();
            broadcast.sendStep(batch);
            StepLogits out = rank0.step(batch, cache);
            timed(t0);
            return out;
        } catch (CommunicatorException e) {
            onGroupFailure.accept(e);
            throw e;
        }
    }

    @Override
    public TokenCounts tokenCounts(int[] prompt, int promptLength) {
        return rank0.tokenCounts(prompt, promptLength);
    }

    /**
     * Every ~10 s of serving, one line: steps run, mean step time and the part of it rank 0 spent in collectives
     * (which includes waiting for the slowest rank) — the cost of sharding, next to the step it is part of.
     */
    private void timed(long t0) {
        long now = System.nanoTime();
        if (windowSteps == 0) {
            windowStart = t0; // an idle stretch is not part of the window
        }
        windowSteps++;
        windowStepNanos += now - t0;
        if (now - windowStart >= LOG_EVERY_NANOS) {
            CollectiveTime total = rank0.collectiveTime();
            CollectiveTime w = total.minus(windowCollectives);
            LOG.info(String.format("sharded steps: %d in the last %.0f s, %.2f ms per step, of which %.2f ms in %d "
                            + "collectives (%.0f%%; rank 0's view, waiting for the slowest rank included)", windowSteps,
                    (now - windowStart) / 1e9, windowStepNanos / 1e6 / windowSteps, w.nanos() / 1e6 / windowSteps,
                    w.calls() / windowSteps, 100.0 * w.nanos() / Math.max(1, windowStepNanos)));
            windowCollectives = total;
            windowStart = now;
            windowSteps = 0;
            windowStepNanos = 0;
        }
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
