package io.peregrine.engine.runtime;

/**
 * A snapshot of the engine's state for metrics and readiness. Cumulative counters only grow.
 *
 * @param kvCacheUsage fraction of KV blocks in use, 0..1
 */
public record EngineStats(
        int waiting,
        int running,
        double kvCacheUsage,
        long kvBlocksUsed,
        long kvBlocksTotal,
        long prefixCacheQueriedTokens,
        long prefixCacheHitTokens,
        long promptTokensTotal,
        long generationTokensTotal) {}
