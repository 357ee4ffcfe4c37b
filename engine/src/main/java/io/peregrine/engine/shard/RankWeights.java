package io.peregrine.engine.shard;

import io.peregrine.engine.checkpoint.CheckpointLayout;
import io.peregrine.engine.checkpoint.TensorSpec;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * The weight bytes each rank holds under a {@link ShardingPlan}, in total and by {@link TensorRole}: a property of the
 * sharding alone, computed once from the config's tensor layout and shared by every capacity question about it.
 */
public final class RankWeights {
    private static final TensorRole[] ROLES = TensorRole.values();

    private final ShardingPlan sharding;
    private final long[] bytes;
    private final long[][] byRole;

    private RankWeights(ShardingPlan sharding, long[] bytes, long[][] byRole) {
        this.sharding = sharding;
        this.bytes = bytes;
        this.byRole = byRole;
    }

    public static RankWeights of(ShardingPlan sharding) {
        return of(sharding, CheckpointLayout.of(sharding.config()));
    }

    public static RankWeights of(ShardingPlan sharding, List<TensorSpec> layout) {
        int ranks = sharding.ranks();
        long[] bytes = new long[ranks];
        long[][] byRole = new long[ranks][ROLES.length];
        for (TensorSpec s : layout) {
            ShardingPlan.Rule rule = sharding.rule(s.name());
            int role = rule.role().ordinal();
            long[] shape = s.shape();
            long element = s.dtype().bytes();
            for (int r = 0; r < ranks; r++) {
                long b = ShardingPlan.partBytes(shape, element, rule.placement(), r);
                bytes[r] += b;
                byRole[r][role] += b;
            }
        }
        return new RankWeights(sharding, bytes, byRole);
    }

    public ShardingPlan sharding() {
        return sharding;
    }

    public long bytes(int rank) {
        return bytes[rank];
    }

    /** The rank holding the most bytes (the first of equals): the one that decides whether a plan fits. */
    public int largestRank() {
        int largest = 0;
        for (int r = 1; r < bytes.length; r++) {
            largest = bytes[r] > bytes[largest] ? r : largest;
        }
        return largest;
    }

    public Map<TensorRole, Long> byRole(int rank) {
        Map<TensorRole, Long> m = new EnumMap<>(TensorRole.class);
        for (TensorRole role : ROLES) {
            m.put(role, byRole[rank][role.ordinal()]);
        }
        return Collections.unmodifiableMap(m);
    }
}
