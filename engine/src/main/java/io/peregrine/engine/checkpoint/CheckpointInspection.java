package io.peregrine.engine.checkpoint;

import io.peregrine.engine.config.ConfigParser;
import io.peregrine.engine.config.IgnoreRule;
import io.peregrine.engine.config.ModelConfig;
import io.peregrine.engine.config.QuantizationConfig;
import io.peregrine.engine.config.TextConfig;
import io.peregrine.engine.config.VisionConfig;
import io.peregrine.engine.config.WeightFormat;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * What {@code peregrine inspect} reports about a checkpoint directory: the architecture, parameter counts, bytes
 * per dtype and KV cache size (all from config.json alone), and, when weights are present, the shards and every
 * validation problem.
 *
 * @param shards     the mapped weight files; empty for a config-only directory
 * @param validation empty for a config-only directory
 */
public record CheckpointInspection(Path dir, ModelConfig config, ModelSize size, int expectedTensors,
                                   List<ShardInfo> shards, Optional<CheckpointValidator.Report> validation) {

    /** How many problems {@link #render()} lists before summarising the rest. */
    static final int MAX_LISTED = 40;

    public record ShardInfo(String file, long bytes, int tensors) {}

    public CheckpointInspection {
        shards = List.copyOf(shards);
    }

    public static CheckpointInspection inspect(Path dir) {
        ModelConfig config = ConfigParser.read(dir);
        List<TensorSpec> layout = CheckpointLayout.of(config);
        ModelSize size = ModelSize.of(config, layout);
        if (!hasWeights(dir)) {
            return new CheckpointInspection(dir, config, size, layout.size(), List.of(), Optional.empty());
        }
        try (Checkpoint ck = Checkpoint.open(dir)) {
            List<ShardInfo> shards = ck.files().stream()
                    .map(f -> new ShardInfo(f.path().getFileName().toString(), f.byteSize(), f.tensors().size())).toList();
            return new CheckpointInspection(dir, config, size, layout.size(), shards,
                    Optional.of(CheckpointValidator.validate(ck)));
        }
    }

    private static boolean hasWeights(Path dir) {
        if (Files.exists(dir.resolve("model.safetensors.index.json"))) {
            return true;
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.anyMatch(p -> p.getFileName().toString().endsWith(".safetensors"));
        } catch (IOException e) {
            throw new CheckpointException(dir + ": " + e.getMessage(), e);
        }
    }

    /** No fatal validation problem (a config-only directory counts as fine). */
    public boolean isUsable() {
        return validation.map(CheckpointValidator.Report::isUsable).orElse(true);
    }

    public String render() {
        StringBuilder o = new StringBuilder();
        TextConfig t = config.text();
        int moe = 0;
        for (int l = 0; l < t.numHiddenLayers(); l++) {
            moe += t.isMoeLayer(l) ? 1 : 0;
        }
        line(o, 0, "Checkpoint " + dir.toAbsolutePath().normalize());
        line(o, 1, "model_type " + config.modelType() + (config.vision().isPresent()
                ? " (DeepSeek-V3 MLA + MoE text decoder, MoonViT-3D vision tower, patch-merger projector)"
                : " (DeepSeek-V3 MLA + MoE text decoder, text only)"));
        line(o, 1, "special ids: bos " + config.bosTokenId() + ", eos " + config.eosTokenIds() + ", pad "
                + config.padTokenId() + (config.isMultimodal() ? ", media_pad " + config.mediaPlaceholderTokenId() : ""));
        line(o, 0, "Text decoder");
        line(o, 1, String.format(Locale.ROOT, "%d layers (%d dense, %d MoE), hidden %d, vocab %,d, max positions %,d",
                t.numHiddenLayers(), t.numHiddenLayers() - moe, moe, t.hiddenSize(), t.vocabSize(), t.maxPositionEmbeddings()));
        line(o, 1, String.format(Locale.ROOT, "MLA: %d heads, q_lora %s, kv_lora %d, qk %d nope + %d rope, v %d; rope theta %s%s",
                t.numAttentionHeads(), t.qLoraRank() > 0 ? String.valueOf(t.qLoraRank()) : "none (q_proj)", t.kvLoraRank(),
                t.qkNopeHeadDim(), t.qkRopeHeadDim(), t.vHeadDim(), num(t.ropeTheta()),
                t.ropeScaling().isYarn() ? ", yarn x" + num(t.ropeScaling().factor()) + " from "
                        + t.ropeScaling().originalMaxPositionEmbeddings() : ""));
        line(o, 1, "dense MLP intermediate " + t.intermediateSize() + (t.nRoutedExperts() == 0 ? "" : String.format(Locale.ROOT,
                "; MoE: %d routed experts (top %d, %s %s, scale %s) + %d shared, intermediate %d", t.nRoutedExperts(),
                t.numExpertsPerTok(), t.scoringFunc(), t.topkMethod(), num(t.routedScalingFactor()), t.nSharedExperts(),
                t.moeIntermediateSize())));
        line(o, 1, "quantization: " + config.quantization().map(CheckpointInspection::describe).orElse("none (all bf16)"));
        config.vision().ifPresent(v -> {
            line(o, 0, "Vision");
            line(o, 1, String.format(Locale.ROOT, "MoonViT-3D: %d layers, hidden %d, %d heads (head_dim %d), MLP %d, patch %d, "
                            + "pos-emb %dx%dx%d frames", v.vtNumHiddenLayers(), v.vtHiddenSize(), v.vtNumAttentionHeads(),
                    v.headDim(), v.vtIntermediateSize(), v.patchSize(), v.initPosEmbHeight(), v.initPosEmbWidth(),
                    v.initPosEmbTime()));
            line(o, 1, describeProjector(v));
        });
        line(o, 0, "Parameters");
        line(o, 1, "total   " + params(size.totalParameters()) + (size.visionParameters() > 0
                ? " (text " + params(size.textParameters()) + ", vision " + params(size.visionParameters()) + ")" : ""));
        line(o, 1, "active  " + params(size.activeParameters()) + " per token (text; top-" + t.numExpertsPerTok()
                + " routed experts, embeddings and lm_head included)");
        line(o, 0, "Weights by dtype (from the config)");
        for (Map.Entry<DType, Long> e : size.bytesByDtype().entrySet()) {
            line(o, 1, String.format(Locale.ROOT, "%-8s %,20d B  %s", e.getKey(), e.getValue(), Bytes.format(e.getValue())));
        }
        line(o, 1, String.format(Locale.ROOT, "%-8s %,20d B  %s in %,d tensors", "total", size.totalBytes(),
                Bytes.format(size.totalBytes()), expectedTensors));
        line(o, 0, "KV cache (bf16 MLA latent: " + t.kvCacheWidth() + " values per token per layer)");
        line(o, 1, String.format(Locale.ROOT, "%,d B per token; %s per %,d-token sequence", size.kvBytesPerToken(),
                Bytes.format(size.kvBytesPerSequence()), size.maxSequenceTokens()));
        if (validation.isEmpty()) {
            line(o, 0, "Weights: none here (config only); validation skipped");
            return o.toString();
        }
        long onDisk = shards.stream().mapToLong(ShardInfo::bytes).sum();
        line(o, 0, String.format(Locale.ROOT, "Weights: %d shard%s, %s", shards.size(), shards.size() == 1 ? "" : "s",
                Bytes.format(onDisk)));
        CheckpointValidator.Report r = validation.get();
        List<CheckpointProblem> fatal = r.fatal();
        long unused = r.problems().size() - fatal.size();
        if (r.problems().isEmpty()) {
            line(o, 0, String.format(Locale.ROOT, "Validation: OK, all %,d tensors present with the right dtype and shape",
                    r.expected().size()));
        } else {
            line(o, 0, String.format(Locale.ROOT, "Validation: %s; %d problem%s, %d unused tensor%s",
                    fatal.isEmpty() ? "usable" : "NOT usable", fatal.size(), fatal.size() == 1 ? "" : "s", unused,
                    unused == 1 ? "" : "s"));
            List<CheckpointProblem> ordered = Stream.concat(fatal.stream(),
                    r.problems().stream().filter(p -> !p.isFatal())).toList();
            ordered.stream().limit(MAX_LISTED).forEach(p -> line(o, 1, p.toString()));
            if (ordered.size() > MAX_LISTED) {
                line(o, 1, "... and " + (ordered.size() - MAX_LISTED) + " more");
            }
        }
        return o.toString();
    }

    private static String describe(QuantizationConfig q) {
        String how = switch (q.format()) {
            case WeightFormat.PackedInt4 p -> q.quantMethod() + " pack-quantized INT4, group " + p.groupSize() + ", symmetric";
            case WeightFormat.Fp8Block b -> "block FP8 e4m3, blocks " + b.blockRows() + "x" + b.blockCols();
        };
        return how + "; ignore " + q.ignore().stream().map(IgnoreRule::text).toList();
    }

    private static String describeProjector(VisionConfig v) {
        return String.format(Locale.ROOT, "projector: %dx%d merge (%s) -> LayerNorm %d -> %d -> %s -> %d", v.mergeKernelHeight(),
                v.mergeKernelWidth(), v.mergeType(), v.mmHiddenSize(), v.projectorInputSize(), v.projectorHiddenAct(),
                v.textHiddenSize());
    }

    private static void line(StringBuilder o, int indent, String s) {
        o.append("  ".repeat(indent)).append(s).append('\n');
    }

    private static String num(double d) {
        return d == Math.rint(d) ? String.valueOf((long) d) : String.valueOf(d);
    }

    /** {@code 1.03 T (1,026,935,586,816)}: the rounded figure people quote, then the exact count. */
    static String params(long n) {
        String[] units = {"", " K", " M", " B", " T"};
        double v = n;
        int u = 0;
        while (v >= 1000 && u < units.length - 1) {
            v /= 1000;
            u++;
        }
        String rounded = u == 0 ? String.valueOf(n) : String.format(Locale.ROOT, v >= 100 ? "%.1f%s" : "%.2f%s", v, units[u]);
        return String.format(Locale.ROOT, "%s (%,d)", rounded, n);
    }
}
