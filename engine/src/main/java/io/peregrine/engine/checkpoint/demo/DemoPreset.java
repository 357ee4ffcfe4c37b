package io.peregrine.engine.checkpoint.demo;

import java.util.List;

/**
 * The sizes of a demo checkpoint. Everything else (the real 163,840-token vocabulary and special ids, YaRN rope,
 * sigmoid noaux_tc routing, the quantization config, the K2.5 tensor layout) is K2.5's own.
 *
 * @param shards how many safetensors shards to split the tensors over (sorted by name, as the real checkpoint)
 */
public record DemoPreset(
        String name,
        String description,
        int hiddenSize,
        int numHiddenLayers,
        int numAttentionHeads,
        int qLoraRank,
        int kvLoraRank,
        int qkNopeHeadDim,
        int qkRopeHeadDim,
        int vHeadDim,
        int intermediateSize,
        int moeIntermediateSize,
        int nRoutedExperts,
        int numExpertsPerTok,
        int nSharedExperts,
        int vtHiddenSize,
        int vtNumAttentionHeads,
        int vtNumHiddenLayers,
        int vtIntermediateSize,
        int shards) {

    /** The smallest layout that still has every part: one dense and one MoE layer, a one-block vision tower. */
    public static final DemoPreset TINY = new DemoPreset("tiny", "smallest: tests and smoke runs",
            64, 2, 2, 32, 32, 16, 8, 16, 128, 32, 4, 2, 1,
            32, 2, 1, 64, 2);

    /** Serves comfortably on 2 CPU cores; the 163,840-row embedding and lm_head are most of its ~190 MB. */
    public static final DemoPreset DEMO = new DemoPreset("demo", "default: serves comfortably on 2 CPU cores",
            256, 4, 4, 128, 64, 32, 16, 32, 512, 128, 16, 4, 1,
            64, 2, 2, 128, 3);

    /**
     * About 2.8 GB, far beyond CPU caches, with the real MLA head dims (128 nope + 64 rope, kv_lora 512), for decode
     * benchmarks that must stream weights from memory.
     */
    public static final DemoPreset BENCH = new DemoPreset("bench", "decode benchmarks: ~2.8 GB, larger than CPU caches",
            2048, 8, 16, 768, 512, 128, 64, 128, 5632, 768, 64, 6, 1,
            256, 4, 2, 1024, 4);

    public static final List<DemoPreset> ALL = List.of(TINY, DEMO, BENCH);

    public static DemoPreset byName(String name) {
        for (DemoPreset p : ALL) {
            if (p.name.equals(name)) {
                return p;
            }
        }
        throw new IllegalArgumentException("unknown demo preset '" + name + "' (expected one of "
                + ALL.stream().map(DemoPreset::name).toList() + ")");
    }
}
