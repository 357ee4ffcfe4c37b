package io.peregrine.engine.shard;

import io.peregrine.engine.checkpoint.CheckpointLayout;
import io.peregrine.engine.checkpoint.TensorSpec;
import io.peregrine.engine.config.ModelConfig;
import io.peregrine.engine.config.TextConfig;
import io.peregrine.engine.config.WeightFormat;
import java.util.ArrayList;
import java.util.List;

/**
 * How a DeepSeek-V3 / Kimi K2.5 checkpoint is split over the ranks of one tensor-parallel group: the per-tensor
 * rules in one place, for the capacity planner now and the sharded forward and loader later.
 *
 * <ul>
 *   <li>Attention: {@code q_b_proj} (or {@code q_proj}) and {@code kv_b_proj} by head (output rows), {@code o_proj}
 *       by its input columns (each rank's heads), its partial outputs summed by the layer's all-reduce. The small
 *       {@code q_a_proj} and {@code kv_a_proj_with_mqa} and their norms are replicated, and so is the latent cache:
 *       MLA keeps one latent per token for all heads, so every rank caches every token (as vLLM does under TP).</li>
 *   <li>Dense MLP and shared experts: {@code gate_proj}/{@code up_proj} by output rows, {@code down_proj} by input
 *       columns (Megatron's column- then row-parallel pair).</li>
 *   <li>Routed experts: with expert parallelism, whole experts, {@code n_routed_experts / ranks} contiguous ones per
 *       rank; without it, every expert split like the dense MLP (vLLM's default under TP).</li>
 *   <li>{@code embed_tokens} and {@code lm_head} by vocabulary rows (the last rank's part is short when the ranks do
 *       not divide the vocabulary); the logits are gathered for sampling.</li>
 *   <li>Routers, layer norms, vision tower and projector: replicated.</li>
 * </ul>
 *
 * A split must fall on whole heads, whole experts and whole quantization groups (INT4 groups, FP8 blocks); a model
 * the ranks cannot divide is refused with the counts that do not divide.
 */
public record ShardingPlan(ModelConfig config, int ranks, boolean expertParallel) {

    /** A tensor's purpose and where it lives. */
    public record Rule(TensorRole role, Placement placement) {}

    public ShardingPlan {
        List<String> problems = problems(config, ranks, expertParallel);
        if (!problems.isEmpty()) {
            throw new ShardingException(String.join("; ", problems));
        }
    }

    public int headsPerRank() {
        return config.text().numAttentionHeads() / ranks;
    }

    /** Routed experts each rank holds whole (expert parallelism), or every expert (each in slices) without it. */
    public int expertsPerRank() {
        int n = config.text().nRoutedExperts();
        return expertParallel ? n / ranks : n;
    }

    /** The rank that computes routed expert {@code e} under expert parallelism. */
    public int expertOwner(int e) {
        return expertParallel ? e / expertsPerRank() : -1;
    }

    /** The rule for the checkpoint tensor {@code name}; fails on a name the layout of this config does not have. */
    public Rule rule(String name) {
        if (name.startsWith("vision_tower.") || name.startsWith("mm_projector.")) {
            return new Rule(TensorRole.VISION, Placement.REPLICATED);
        }
        String prefix = CheckpointLayout.textPrefix(config);
        if (!name.startsWith(prefix)) {
            throw unknown(name);
        }
        String n = name.substring(prefix.length());
        if (n.startsWith("model.embed_tokens.") || n.startsWith("lm_head.")) {
            return new Rule(TensorRole.EMBEDDING, split(0));
        }
        if (n.equals("model.norm.weight")) {
            return new Rule(TensorRole.NORMS, Placement.REPLICATED);
        }
        if (!n.startsWith("model.layers.")) {
            throw unknown(name);
        }
        int dot = n.indexOf('.', "model.layers.".length());
        if (dot < 0) {
            throw unknown(name);
        }
        String rest = n.substring(dot + 1);
        if (rest.startsWith("input_layernorm.") || rest.startsWith("post_attention_layernorm.")) {
            return new Rule(TensorRole.NORMS, Placement.REPLICATED);
        }
        if (rest.startsWith("self_attn.")) {
            return switch (module(rest, "self_attn.")) {
                case "q_proj", "q_b_proj", "kv_b_proj" -> new Rule(TensorRole.ATTENTION_SPLIT, split(0));
                case "o_proj" -> new Rule(TensorRole.ATTENTION_SPLIT, split(1));
                case "q_a_proj", "q_a_layernorm", "kv_a_proj_with_mqa", "kv_a_layernorm" ->
                        new Rule(TensorRole.ATTENTION_REPLICATED, Placement.REPLICATED);
                default -> throw unknown(name);
            };
        }
        if (rest.startsWith("mlp.gate.")) {
            return new Rule(TensorRole.ROUTER, Placement.REPLICATED);
        }
        if (rest.startsWith("mlp.experts.")) {
            String e = module(rest, "mlp.experts.");
            String tail = rest.substring("mlp.experts.".length() + e.length() + 1);
            if (expertParallel) {
                return new Rule(TensorRole.ROUTED_EXPERTS, new Placement.Owned(expertOwner(Integer.parseInt(e))));
            }
            if (tail.endsWith(".weight_shape")) {
                return new Rule(TensorRole.ROUTED_EXPERTS, Placement.REPLICATED);
            }
            return new Rule(TensorRole.ROUTED_EXPERTS, mlpSplit(module(tail, ""), name));
        }
        if (rest.startsWith("mlp.shared_experts.")) {
            return new Rule(TensorRole.DENSE_MLP, mlpSplit(module(rest, "mlp.shared_experts."), name));
        }
        if (rest.startsWith("mlp.")) {
            return new Rule(TensorRole.DENSE_MLP, mlpSplit(module(rest, "mlp."), name));
        }
        throw unknown(name);
    }

    /** The shape of the part of {@code spec} that {@code rank} holds; a zero first dimension when it holds none. */
    public long[] shapeOnRank(TensorSpec spec, int rank) {
        return partShape(spec.shape(), rule(spec.name()).placement(), rank);
    }

    public long bytesOnRank(TensorSpec spec, int rank) {
        return partBytes(spec, rule(spec.name()).placement(), rank);
    }

    /** The part of a tensor of {@code shape} placed by {@code p} that {@code rank} holds. */
    public static long[] partShape(long[] shape, Placement p, int rank) {
        long[] part = shape.clone();
        switch (p) {
            case Placement.Replicated r -> { }
            case Placement.Owned o -> {
                if (o.rank() != rank) {
                    part[0] = 0;
                }
            }
            case Placement.Split s -> part[s.dim()] = partLength(part[s.dim()], s.parts(), rank);
        }
        return part;
    }

    /** Where {@code rank}'s part of a dimension of {@code len} split into {@code parts} starts: ⌈len / parts⌉ per rank. */
    public static long partStart(long len, int parts, int rank) {
        return Math.min(len, (len + parts - 1) / parts * rank);
    }

    /** The length of {@code rank}'s part of a dimension of {@code len} split into {@code parts} (the last may be short). */
    public static long partLength(long len, int parts, int rank) {
        long start = partStart(len, parts, rank);
        return Math.min(len, start + (len + parts - 1) / parts) - start;
    }

    public static long partBytes(TensorSpec spec, Placement p, int rank) {
        return partBytes(spec.shape(), spec.dtype().bytes(), p, rank);
    }

    /** Bytes of {@link #partShape}, without building it. */
    public static long partBytes(long[] shape, long elementBytes, Placement p, int rank) {
        long whole = elementBytes;
        for (long d : shape) {
            whole *= d;
        }
        return switch (p) {
            case Placement.Replicated r -> whole;
            case Placement.Owned o -> o.rank() == rank ? whole : 0;
            case Placement.Split s -> {
                long len = shape[s.dim()];
                if (len == 0) {
                    yield 0;
                }
                long per = (len + s.parts() - 1) / s.parts();
                long start = Math.min(len, per * rank);
                yield whole / len * (Math.min(len, start + per) - start);
            }
        };
    }

    private Placement split(int dim) {
        return ranks == 1 ? Placement.REPLICATED : new Placement.Split(dim, ranks);
    }

    private Placement mlpSplit(String proj, String name) {
        return switch (proj) {
            case "gate_proj", "up_proj" -> split(0);
            case "down_proj" -> split(1);
            default -> throw unknown(name);
        };
    }

    private static String module(String rest, String after) {
        int from = after.length();
        int dot = rest.indexOf('.', from);
        return dot < 0 ? rest.substring(from) : rest.substring(from, dot);
    }

    private IllegalArgumentException unknown(String name) {
        return new IllegalArgumentException("no sharding rule for tensor " + name);
    }

    private static List<String> problems(ModelConfig config, int ranks, boolean expertParallel) {
        List<String> p = new ArrayList<>();
        if (ranks < 1) {
            p.add("need at least one rank, got " + ranks);
            return p;
        }
        TextConfig t = config.text();
        String tp = ranks + " tensor-parallel rank" + (ranks == 1 ? "" : "s");
        if (t.numAttentionHeads() % ranks != 0) {
            p.add("num_attention_heads " + t.numAttentionHeads() + " is not divisible by " + tp);
        } else {
            int heads = t.numAttentionHeads() / ranks;
            String q = t.qLoraRank() > 0 ? "self_attn.q_b_proj" : "self_attn.q_proj";
            checkGroups(p, config, q, (long) heads * t.qkHeadDim(), true, ranks);
            checkGroups(p, config, "self_attn.kv_b_proj", (long) heads * (t.qkNopeHeadDim() + t.vHeadDim()), true, ranks);
            checkGroups(p, config, "self_attn.o_proj", (long) heads * t.vHeadDim(), false, ranks);
        }
        if (hasDenseLayer(t)) {
            checkMlp(p, config, "intermediate_size", t.intermediateSize(), "mlp.", ranks, "");
        }
        if (t.nRoutedExperts() > 0 && t.nSharedExperts() > 0) {
            checkMlp(p, config, "n_shared_experts * moe_intermediate_size",
                    (long) t.nSharedExperts() * t.moeIntermediateSize(), "mlp.shared_experts.", ranks, "");
        }
        if (t.nRoutedExperts() > 0) {
            if (expertParallel) {
                if (t.nRoutedExperts() % ranks != 0) {
                    p.add("n_routed_experts " + t.nRoutedExperts() + " is not divisible by " + ranks
                            + " expert-parallel ranks");
                }
            } else {
                checkMlp(p, config, "moe_intermediate_size (of each routed expert)", t.moeIntermediateSize(),
                        "mlp.experts.0.", ranks, " (or use --enable-expert-parallel: whole experts per rank)");
            }
        }
        return p;
    }

    private static boolean hasDenseLayer(TextConfig t) {
        for (int l = 0; l < t.numHiddenLayers(); l++) {
            if (!t.isMoeLayer(l)) {
                return true;
            }
        }
        return false;
    }

    private static void checkMlp(List<String> p, ModelConfig config, String what, long inter, String module, int ranks,
                                 String hint) {
        if (inter % ranks != 0) {
            p.add(what + " " + inter + " is not divisible by " + ranks + " tensor-parallel ranks" + hint);
            return;
        }
        int before = p.size();
        checkGroups(p, config, module + "gate_proj", inter / ranks, true, ranks);
        checkGroups(p, config, module + "down_proj", inter / ranks, false, ranks);
        if (p.size() > before) {
            p.set(p.size() - 1, p.getLast() + hint);
        }
    }

    /**
     * A quantized module's per-rank slice must hold whole quantization groups: rows for a column-parallel split,
     * input columns for a row-parallel one.
     */
    private static void checkGroups(List<String> p, ModelConfig config, String module, long perRank, boolean rows,
                                    int ranks) {
        String name = CheckpointLayout.layer(config, firstLayerWith(config, module), module);
        if (!config.isQuantized(name)) {
            return;
        }
        long granule = switch (config.quantization().orElseThrow().format()) {
            case WeightFormat.PackedInt4 q -> rows ? 1 : q.groupSize();
            case WeightFormat.Fp8Block b -> rows ? b.blockRows() : b.blockCols();
        };
        if (perRank % granule != 0) {
            p.add(module.replace(".0.", ".{e}.") + ": " + perRank + (rows ? " rows" : " input columns") + " per rank over "
                    + ranks + " ranks is not a multiple of the quantization group of " + granule);
        }
    }

    private static int firstLayerWith(ModelConfig config, String module) {
        TextConfig t = config.text();
        boolean moe = module.startsWith("mlp.experts.") || module.startsWith("mlp.shared_experts.");
        boolean dense = !moe && module.startsWith("mlp.");
        for (int l = 0; l < t.numHiddenLayers(); l++) {
            if (moe && t.isMoeLayer(l) || dense && !t.isMoeLayer(l) || !moe && !dense) {
                return l;
            }
        }
        return 0;
    }
}
