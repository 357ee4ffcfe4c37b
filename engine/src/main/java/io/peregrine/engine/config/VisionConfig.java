package io.peregrine.engine.config;

/**
 * {@code vision_config} of a K2.5 checkpoint: the MoonViT-3D tower and its patch-merger projector (spec §1.3, §4).
 * Names follow config.json ({@code vt_*} is the tower, {@code mm_*} the projector input).
 */
public record VisionConfig(
        int patchSize,
        int initPosEmbHeight,
        int initPosEmbWidth,
        int initPosEmbTime,
        String posEmbType,
        int vtHiddenSize,
        int vtIntermediateSize,
        int vtNumAttentionHeads,
        int vtNumHiddenLayers,
        int mergeKernelHeight,
        int mergeKernelWidth,
        String mergeType,
        String videoAttnType,
        String mmProjectorType,
        int mmHiddenSize,
        int textHiddenSize,
        String projectorHiddenAct,
        double projectorLnEps) {

    /** nn.LayerNorm's default, used by every norm inside the tower. */
    public static final double TOWER_LN_EPS = 1e-5;

    /** Maximum grid side: the reference's RoPE table is 512 x 512 patches. */
    public static final int MAX_GRID_SIDE = 512;

    /**
     * A MoonViT-3D of these sizes with the K2.5 defaults for the rest (square merge kernel, {@code sd2_tpool},
     * patch-merger projector over the tower's width): synthetic towers in checks and benchmarks.
     */
    public static VisionConfig moonVit(int patchSize, int hidden, int heads, int layers, int intermediate,
                                       int posEmbHeight, int posEmbWidth, int posEmbTime, int mergeKernel,
                                       int textHidden, double projectorLnEps) {
        return new VisionConfig(patchSize, posEmbHeight, posEmbWidth, posEmbTime, "divided_fixed", hidden,
                intermediate, heads, layers, mergeKernel, mergeKernel, "sd2_tpool", "spatial_temporal",
                "patchmerger", hidden, textHidden, "gelu", projectorLnEps);
    }

    /**
     * This config as the tower runs it (both runtimes): a square merge kernel and {@code sd2_tpool} merging. Checked
     * when an encoder opens, not when the config is read, so such a checkpoint still serves text.
     */
    public VisionConfig requireSupportedTower() {
        if (mergeKernelHeight != mergeKernelWidth) {
            throw new ConfigException("vision_config.merge_kernel_size must be square, got [" + mergeKernelHeight
                    + ", " + mergeKernelWidth + "]");
        }
        if (!mergeType.equals("sd2_tpool")) {
            throw new ConfigException("vision_config.merge_type '" + mergeType + "' is not supported (sd2_tpool)");
        }
        return this;
    }

    public int headDim() {
        return vtHiddenSize / vtNumAttentionHeads;
    }

    /** The side of the square patch-merge kernel ({@link #requireSupportedTower}). */
    public int mergeKernel() {
        return mergeKernelHeight;
    }

    /** Input width of the projector: the merged 2x2 block of tower outputs, concatenated. */
    public int projectorInputSize() {
        return mergeKernelHeight * mergeKernelWidth * mmHiddenSize;
    }
}
