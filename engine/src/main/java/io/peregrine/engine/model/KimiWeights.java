package io.peregrine.engine.model;

import io.peregrine.engine.backend.Activation;
import io.peregrine.engine.backend.Backend;
import io.peregrine.engine.backend.ExpertStack;
import io.peregrine.engine.backend.LinearWeight;
import io.peregrine.engine.backend.MoeBlock;
import io.peregrine.engine.backend.MoeRouter;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.checkpoint.CheckpointException;
import io.peregrine.engine.checkpoint.DType;
import io.peregrine.engine.checkpoint.Int4Group32;
import io.peregrine.engine.checkpoint.Tensor;
import io.peregrine.engine.config.TextConfig;
import io.peregrine.engine.shard.Placement;
import io.peregrine.engine.shard.ShardingPlan;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * The text decoder's weights bound to a backend (BF16 in place on the CPU, INT4 repacked once, everything on the
 * device for CUDA), each checked against the config's shape: only this rank's part of each tensor
 * ({@link TextShard}; the whole of it for a group of one). A split on the first dimension is a view of the mapped
 * file; a split on the second is copied out row by row. A MoE layer holds this rank's routed experts only,
 * {@code experts().get(e - shard.firstExpert())}. {@code bytesRead} counts the checkpoint bytes this rank's parts
 * span: what it maps in, not the whole checkpoint.
 */
record KimiWeights(LinearWeight embedding, List<LayerWeights> layers, Activation finalNorm, LinearWeight lmHead,
                   long bytesRead) {

    static KimiWeights load(Checkpoint ck, Backend backend, TextShard shard, Consumer<WeightProgress> progress) {
        return load(ck, backend, backend, ExpertPlacement.primary(ck.config().text()), shard, progress);
    }

    /**
     * As {@link #load(Checkpoint, Backend, TextShard, Consumer)}, with the routed experts {@code placement} puts on
     * the host uploaded to {@code host} instead (the CPU backend maps them in place; INT4 repacked once off-heap).
     */
    static KimiWeights load(Checkpoint ck, Backend backend, Backend host, ExpertPlacement placement, TextShard shard,
                            Consumer<WeightProgress> progress) {
        TextConfig c = ck.config().text();
        if (c.nRoutedExperts() > 0 && !"sigmoid".equals(c.scoringFunc())) {
            throw new CheckpointException("scoring_func '" + c.scoringFunc() + "' is not supported (sigmoid only)");
        }
        String root = ck.has("language_model.model.embed_tokens.weight") ? "language_model." : "";
        String m = root + "model.";
        Tensor embed = ck.tensor(m + "embed_tokens.weight");
        if (embed.dtype() != DType.BF16 || embed.rank() != 2 || embed.dim(0) != c.vocabSize() || embed.dim(1) != c.hiddenSize()) {
            throw new CheckpointException("embed_tokens.weight: expected BF16[" + c.vocabSize() + ", " + c.hiddenSize()
                    + "], got " + embed);
        }
        Loader l = new Loader(ck, backend, shard);
        Loader hostLoader = host == backend ? l : new Loader(ck, host, shard);
        TextWeightBytes sizes = TextWeightBytes.of(ck, root, c.numHiddenLayers());
        long start = System.nanoTime();
        long bytesDone = 0;
        List<LayerWeights> layers = new ArrayList<>();
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            String p = m + "layers." + i + ".";
            LayerWeights.Attention attn = l.attention(p + "self_attn.", c);
            LayerWeights.FeedForward ffn;
            if (c.isMoeLayer(i)) {
                String g = p + "mlp.gate.";
                List<LayerWeights.Dense> experts = new ArrayList<>();
                boolean primaryOnly = true;
                for (int e = shard.firstExpert(); e < shard.firstExpert() + shard.experts(); e++) {
                    primaryOnly &= !placement.onHost(i, e);
                    Loader side = placement.onHost(i, e) ? hostLoader : l;
                    experts.add(side.mlp(p + "mlp.experts." + e + ".", c.hiddenSize(), c.moeIntermediateSize()));
                }
                LayerWeights.Dense shared = c.nSharedExperts() > 0
                        ? l.mlp(p + "mlp.shared_experts.", c.hiddenSize(), c.moeIntermediateSize() * c.nSharedExperts())
                        : null;
                LinearWeight router = l.linear(g.substring(0, g.length() - 1), c.nRoutedExperts(), c.hiddenSize());
                float[] bias = l.hostVector(g + "e_score_correction_bias", c.nRoutedExperts());
                ffn = new LayerWeights.Moe(router, bias, List.copyOf(experts), shared,
                        primaryOnly ? block(backend, c, shard, experts, shared, bias) : null);
            } else {
                ffn = l.mlp(p + "mlp.", c.hiddenSize(), c.intermediateSize());
            }
            layers.add(new LayerWeights(l.vector(p + "input_layernorm.weight", c.hiddenSize()),
                    l.vector(p + "post_attention_layernorm.weight", c.hiddenSize()), attn, ffn));
            bytesDone += sizes.layer(i);
            progress.accept(new WeightProgress(i + 1, c.numHiddenLayers(), bytesDone, sizes.total(), System.nanoTime() - start));
        }
        String head = c.tieWordEmbeddings() ? m + "embed_tokens" : root + "lm_head";
        LinearWeight embedding = backend.upload(l.part(embed));
        KimiWeights w = new KimiWeights(embedding, List.copyOf(layers), l.vector(m + "norm.weight", c.hiddenSize()),
                l.linear(head, c.vocabSize(), c.hiddenSize()), l.bytesRead + (hostLoader == l ? 0 : hostLoader.bytesRead));
        progress.accept(new WeightProgress(c.numHiddenLayers(), c.numHiddenLayers(), sizes.total(), sizes.total(),
                System.nanoTime() - start));
        return w;
    }

    /** The layer as one {@link Backend#moe} operation: this rank's experts stacked, the bias on the backend. */
    private static MoeBlock block(Backend backend, TextConfig c, TextShard shard, List<LayerWeights.Dense> experts,
                                  LayerWeights.Dense shared, float[] bias) {
        MoeRouter router = new MoeRouter(c.nRoutedExperts(), c.nGroup(), c.topkGroup(), c.numExpertsPerTok(),
                c.normTopkProb(), (float) c.routedScalingFactor());
        ExpertStack stack = backend.stackExperts(shard.firstExpert(),
                experts.stream().map(LayerWeights.Dense::gate).toList(),
                experts.stream().map(LayerWeights.Dense::up).toList(),
                experts.stream().map(LayerWeights.Dense::down).toList());
        return new MoeBlock(router, backend.vector(bias), stack, shared == null ? null : shared.gate(),
                shared == null ? null : shared.up(), shared == null ? null : shared.down());
    }

    private static final class Loader {
        private final Checkpoint ck;
        private final Backend b;
        private final TextShard shard;
        long bytesRead;

        Loader(Checkpoint ck, Backend b, TextShard shard) {
            this.ck = ck;
            this.b = b;
            this.shard = shard;
        }

        LayerWeights.Attention attention(String a, TextConfig c) {
            int qRows = c.numAttentionHeads() * c.qkHeadDim();
            boolean lora = c.qLoraRank() > 0;
            return new LayerWeights.Attention(
                    lora ? null : linear(a + "q_proj", qRows, c.hiddenSize()),
                    lora ? linear(a + "q_a_proj", c.qLoraRank(), c.hiddenSize()) : null,
                    lora ? vector(a + "q_a_layernorm.weight", c.qLoraRank()) : null,
                    lora ? linear(a + "q_b_proj", qRows, c.qLoraRank()) : null,
                    linear(a + "kv_a_proj_with_mqa", c.kvCacheWidth(), c.hiddenSize()),
                    vector(a + "kv_a_layernorm.weight", c.kvLoraRank()),
                    linear(a + "kv_b_proj", c.numAttentionHeads() * (c.qkNopeHeadDim() + c.vHeadDim()), c.kvLoraRank()),
                    linear(a + "o_proj", c.hiddenSize(), c.numAttentionHeads() * c.vHeadDim()));
        }

        LayerWeights.Dense mlp(String p, int hidden, int inter) {
            return new LayerWeights.Dense(linear(p + "gate_proj", inter, hidden), linear(p + "up_proj", inter, hidden),
                    linear(p + "down_proj", hidden, inter));
        }

        /**
         * This rank's part of a BF16 {@code module.weight} or a pack-quantized {@code module.weight_packed}, whose
         * whole shape is checked against the config's.
         */
        LinearWeight linear(String module, int rows, int cols) {
            if (ck.has(module + ".weight_packed")) {
                Int4Group32 whole = Int4Group32.of(ck, module);
                check(module, whole.rows(), whole.cols(), rows, cols);
                Tensor packed = part(whole.packed());
                Tensor scale = part(whole.scale());
                bytesRead += ck.tensor(module + ".weight_shape").data().byteSize();
                return b.upload(new Int4Group32(module, Math.toIntExact(packed.dim(0)),
                        Math.toIntExact(packed.dim(1) * Int4Group32.PER_WORD), packed, scale));
            }
            Tensor t = ck.tensor(module + ".weight");
            if (t.rank() != 2) {
                throw new CheckpointException(module + ".weight: expected 2-D, got " + t);
            }
            check(module, t.dim(0), t.dim(1), rows, cols);
            return b.upload(part(t));
        }

        private static void check(String module, long rows, long cols, int wantRows, int wantCols) {
            if (rows != wantRows || cols != wantCols) {
                throw new CheckpointException(module + ": shape [" + rows + ", " + cols + "], config implies ["
                        + wantRows + ", " + wantCols + "]");
            }
        }

        /** This rank's part of {@code t} under the sharding plan, counted in {@link #bytesRead}. */
        Tensor part(Tensor t) {
            Placement p = shard.plan().rule(t.name()).placement();
            Tensor part = switch (p) {
                case Placement.Replicated r -> t;
                case Placement.Owned o -> {
                    if (o.rank() != shard.rank()) {
                        throw new IllegalStateException(t.name() + " belongs to rank " + o.rank() + ", not " + shard.rank());
                    }
                    yield t;
                }
                case Placement.Split s -> TensorSlice.of(t, s.dim(), ShardingPlan.partStart(t.dim(s.dim()), s.parts(),
                        shard.rank()), ShardingPlan.partLength(t.dim(s.dim()), s.parts(), shard.rank()));
            };
            bytesRead += part.data().byteSize();
            return part;
        }

        Activation vector(String name, int len) {
            return b.vector(hostVector(name, len));
        }

        float[] hostVector(String name, int len) {
            Tensor t = part(ck.tensor(name));
            if (t.numel() != len) {
                throw new CheckpointException(name + ": " + t.numel() + " values, config implies " + len);
            }
            return t.toFloatArray();
        }
    }
}
