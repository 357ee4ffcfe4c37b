package io.peregrine.engine.model;

import io.peregrine.engine.config.TextConfig;
import io.peregrine.engine.shard.ShardingPlan;

/**
 * The part of the text decoder that one rank computes under a {@link ShardingPlan}: its attention heads, its slice
 * of the dense MLP's and the shared expert's intermediate width, its routed experts (whole under expert parallelism,
 * every expert in slices without it) and its band of the vocabulary. A group of one holds everything, and the model
 * runs the same code for it.
 */
public record TextShard(ShardingPlan plan, int rank, int heads, int denseInter, int sharedInter, int moeInter,
                        int firstExpert, int experts, int firstVocab, int vocab, int vocabPerRank) {

    public static TextShard of(ShardingPlan plan, int rank) {
        if (rank < 0 || rank >= plan.ranks()) {
            throw new IllegalArgumentException("rank " + rank + " of a group of " + plan.ranks());
        }
        TextConfig c = plan.config().text();
        int n = plan.ranks();
        int shared = c.moeIntermediateSize() * c.nSharedExperts();
        int vocabPerRank = (c.vocabSize() + n - 1) / n;
        return new TextShard(plan, rank, plan.headsPerRank(),
                part(c.intermediateSize(), n, rank), part(shared, n, rank),
                plan.expertParallel() ? c.moeIntermediateSize() : part(c.moeIntermediateSize(), n, rank),
                plan.expertParallel() ? rank * plan.expertsPerRank() : 0, plan.expertsPerRank(),
                (int) ShardingPlan.partStart(c.vocabSize(), n, rank), part(c.vocabSize(), n, rank), vocabPerRank);
    }

    public int ranks() {
        return plan.ranks();
    }

    public boolean ownsExpert(int e) {
        return e >= firstExpert && e < firstExpert + experts;
    }

    private static int part(int len, int parts, int rank) {
        return (int) ShardingPlan.partLength(len, parts, rank);
    }
}
