package io.peregrine.engine.shard;

import io.peregrine.engine.checkpoint.Bytes;
import io.peregrine.engine.config.TextConfig;
import io.peregrine.engine.kv.KvCacheGeometry;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalLong;

/**
 * What {@code peregrine plan} works out for a group of GPUs, one rank each, under a {@link ShardingPlan}: the weight
 * bytes each rank holds, the memory kept back, and the KV cache that is left, in tokens and in sequences of the
 * served length.
 *
 * <p>Without an explicit KV budget the cache gets {@code gpuMemory * utilization - weights - reserve} (vLLM's
 * {@code --gpu-memory-utilization} headroom, then a reserve for activations, CUDA graphs, NCCL buffers and the CUDA
 * context); with one, the plan checks that weights, reserve and cache fit the whole GPU. Every rank holds the same
 * latent cache (MLA under TP), so the tokens per rank are the tokens of the whole group.
 *
 * @param weightsByRole the largest rank's weight bytes by what they are for
 * @param kvBytes       the KV cache budget per rank (negative when the weights and reserve alone do not fit)
 * @param problems      why the plan is refused; empty when it fits
 */
public record CapacityPlan(ShardingPlan sharding, Request request, int largestRank, long weightBytes,
                           Map<TensorRole, Long> weightsByRole, long usableBytes, long kvBytes, KvCacheGeometry kv,
                           List<String> problems) {

    /**
     * @param gpuMemory     bytes of memory per GPU
     * @param utilization   share of {@code gpuMemory} the server may use when {@code kvCacheMemory} is absent
     * @param reserve       bytes kept for everything but weights and KV cache
     * @param kvCacheMemory the KV budget per rank, when given
     * @param maxModelLen   the context length one sequence may reach
     * @param kvBytesPerValue bytes of one cached value: 2 for bf16, 1 for fp8
     */
    public record Request(int gpus, long gpuMemory, double utilization, long reserve, OptionalLong kvCacheMemory,
                          int maxModelLen, int kvBytesPerValue, int blockSize) {}

    /**
     * Kept for activations, CUDA graphs, NCCL buffers and the CUDA context: what vLLM's own profile left over for
     * Kimi-K2-Thinking at TP8 on H200 (140.4 GiB x 0.9 - 70.9 GiB of weights - 46.80 GiB of KV cache = 8.6 GiB).
     */
    public static final long DEFAULT_RESERVE = (long) (8.6 * (1L << 30));

    public CapacityPlan {
        weightsByRole = Map.copyOf(weightsByRole);
        problems = List.copyOf(problems);
    }

    public static CapacityPlan of(ShardingPlan sharding, Request request) {
        return of(RankWeights.of(sharding), request);
    }

    public static CapacityPlan of(RankWeights weightsPerRank, Request request) {
        ShardingPlan sharding = weightsPerRank.sharding();
        if (request.gpus() != sharding.ranks()) {
            throw new ShardingException("--gpus " + request.gpus() + " and --tensor-parallel-size " + sharding.ranks()
                    + " differ: only tensor (and expert) parallelism over all the GPUs is planned, one rank per GPU");
        }
        int largest = weightsPerRank.largestRank();
        long weights = weightsPerRank.bytes(largest);
        TextConfig t = sharding.config().text();
        KvCacheGeometry kv = KvCacheGeometry.of(t, request.kvBytesPerValue(), request.blockSize());
        long usable = request.kvCacheMemory().isPresent() ? request.gpuMemory()
                : (long) Math.floor(request.gpuMemory() * request.utilization());
        long kvBytes = request.kvCacheMemory().orElse(usable - weights - request.reserve());
        List<String> problems = new ArrayList<>();
        long need = weights + request.reserve() + Math.max(0, request.kvCacheMemory().orElse(0));
        if (need > usable) {
            problems.add(String.format(Locale.ROOT, "does not fit: each GPU needs %s of weights + %s reserve%s = %s, "
                            + "but has %s%s: short by %s per GPU", Bytes.format(weights), Bytes.format(request.reserve()),
                    request.kvCacheMemory().isPresent() ? " + " + Bytes.format(kvBytes) + " KV cache" : "",
                    Bytes.format(need), Bytes.format(usable), request.kvCacheMemory().isPresent() ? ""
                            : String.format(Locale.ROOT, " (%s x %.2f utilization)", Bytes.format(request.gpuMemory()),
                            request.utilization()), Bytes.format(need - usable)));
        } else {
            long tokens = kv.tokensFor(kvBytes);
            long oneSequence = kv.blocksPerSequence(request.maxModelLen()) * kv.blockSize();
            if (tokens < oneSequence) {
                long shortBy = kv.blocksPerSequence(request.maxModelLen()) * kv.bytesPerBlock() - kvBytes;
                problems.add(String.format(Locale.ROOT, "the KV cache holds %,d tokens per rank, fewer than one "
                                + "sequence of --max-model-len %,d: short by %s per GPU (lower --max-model-len, or add "
                                + "memory or GPUs)", tokens, request.maxModelLen(), Bytes.format(shortBy)));
            }
        }
        return new CapacityPlan(sharding, request, largest, weights, weightsPerRank.byRole(largest), usable, kvBytes, kv,
                problems);
    }

    public boolean fits() {
        return problems.isEmpty();
    }

    /** KV-cache token slots per rank (whole blocks); every rank holds the same tokens. */
    public long kvTokens() {
        return kv.tokensFor(kvBytes);
    }

    /** Sequences of {@code maxModelLen} tokens the cache holds at once, each rounded up to whole blocks. */
    public long maxConcurrentSequences() {
        return kv.blocksFor(kvBytes) / kv.blocksPerSequence(request.maxModelLen());
    }

    public String render() {
        StringBuilder o = new StringBuilder();
        ShardingPlan s = sharding;
        TextConfig t = s.config().text();
        Request q = request;
        line(o, 0, String.format(Locale.ROOT, "Plan: %s on %d GPU%s of %s, tensor parallel %d, routed experts %s",
                s.config().modelType(), q.gpus(), q.gpus() == 1 ? "" : "s", Bytes.format(q.gpuMemory()), s.ranks(),
                t.nRoutedExperts() == 0 ? "(none)" : s.expertParallel()
                        ? "by expert parallelism (" + s.expertsPerRank() + " of " + t.nRoutedExperts() + " per rank)"
                        : "split by TP (each expert's " + t.moeIntermediateSize() + " intermediate / " + s.ranks() + ")"));
        line(o, 1, String.format(Locale.ROOT, "attention: %d of %d heads per rank; latent cache replicated on every rank",
                s.headsPerRank(), t.numAttentionHeads()));
        line(o, 0, String.format(Locale.ROOT, "Weights per rank: %s (%,d B; rank %d, the largest)",
                Bytes.format(weightBytes), weightBytes, largestRank));
        for (TensorRole role : TensorRole.values()) {
            Long b = weightsByRole.get(role);
            if (b != null && b > 0) {
                line(o, 1, String.format(Locale.ROOT, "%-52s %10s", role == TensorRole.ROUTED_EXPERTS
                        ? role.label() + (s.expertParallel() ? " (whole, by rank)" : " (split by intermediate)")
                        : role.label(), Bytes.format(b)));
            }
        }
        line(o, 0, "Memory per GPU");
        if (q.kvCacheMemory().isPresent()) {
            line(o, 1, String.format(Locale.ROOT, "%-52s %10s", "GPU memory", Bytes.format(q.gpuMemory())));
        } else {
            line(o, 1, String.format(Locale.ROOT, "%-52s %10s", String.format(Locale.ROOT, "usable (%s x %.2f utilization)",
                    Bytes.format(q.gpuMemory()), q.utilization()), Bytes.format(usableBytes)));
        }
        line(o, 1, String.format(Locale.ROOT, "%-52s %10s", "weights", Bytes.format(weightBytes)));
        line(o, 1, String.format(Locale.ROOT, "%-52s %10s", "reserve (activations, CUDA graphs, NCCL, context)",
                Bytes.format(q.reserve())));
        line(o, 1, String.format(Locale.ROOT, "%-52s %10s", q.kvCacheMemory().isPresent() ? "KV cache (--kv-cache-memory)"
                : "KV cache (what is left)", kvBytes < 0 ? "-" + Bytes.format(-kvBytes) : Bytes.format(kvBytes)));
        line(o, 0, String.format(Locale.ROOT, "KV cache per rank: %,d B per token (%d layers x %d latent values x %d B), "
                + "blocks of %d tokens", kv.bytesPerToken(), kv.layers(), kv.width(), kv.bytesPerValue(), kv.blockSize()));
        if (kvBytes >= 0 && !problems.stream().anyMatch(p -> p.startsWith("does not fit"))) {
            line(o, 1, String.format(Locale.ROOT, "%,d blocks = %,d tokens", kv.blocksFor(kvBytes), kvTokens()));
            long n = maxConcurrentSequences();
            line(o, 1, String.format(Locale.ROOT, "at %,d tokens per sequence: %,d concurrent sequence%s (%.2fx)",
                    q.maxModelLen(), n, n == 1 ? "" : "s", (double) kvTokens() / q.maxModelLen()));
        }
        if (fits()) {
            line(o, 0, "Fits.");
        } else {
            problems.forEach(p -> line(o, 0, "Refused: " + p));
        }
        return o.toString();
    }

    private static void line(StringBuilder o, int indent, String s) {
        o.append("  ".repeat(indent)).append(s).append('\n');
    }
}
