package io.peregrine.engine.model;

import io.peregrine.engine.dist.Communicator;
import io.peregrine.engine.kv.LatentCache;

/**
 * A worker rank of a sharded model: runs what rank 0 ({@link ShardedModel}) broadcasts, on its own shard, until told
 * to stop. Its latent cache is a replica of rank 0's (MLA keeps one latent per token for all heads): the same
 * geometry, written at the same slots by the same step, so block allocation stays rank 0's alone. Its logits are
 * gathered like every rank's and left unused: rank 0 samples.
 */
public final class ShardWorker {
    private ShardWorker() {}

    /** Returns when rank 0 says stop; a failed group throws the communicator's exception. Returns the steps run. */
    public static long run(KimiTextModel shard, Communicator comm) {
        if (comm.rank() == 0) {
            throw new IllegalArgumentException("rank 0 serves; workers are ranks 1 and up");
        }
        StepBroadcast broadcast = new StepBroadcast(comm, shard.config().hiddenSize());
        LatentCache cache = null;
        long steps = 0;
        while (true) {
            switch (broadcast.receive()) {
                case StepBroadcast.Stop s -> {
                    return steps;
                }
                case StepBroadcast.Cache c -> cache = shard.newCache(c.blocks(), c.blockSize());
                case StepBroadcast.Step s -> {
                    if (cache == null) {
                        throw new IllegalStateException("rank 0 sent a step before a cache");
                    }
                    shard.step(s.batch(), cache);
                    steps++;
                }
            }
        }
    }
}
