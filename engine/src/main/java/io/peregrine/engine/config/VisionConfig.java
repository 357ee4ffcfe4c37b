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

    public int headDim() {
        return vtHiddenSize / vtNumAttentionHeads;
    }

    /** Input width of the projector: the merged 2x2 block of tower outputs, concatenated. */
    public int projectorInputSize() {
        return mergeKernelHeight * mergeKernelWidth * mmHiddenSize;
    }
}
