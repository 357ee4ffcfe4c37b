package io.peregrine.engine.vision.preprocess;

/**
 * The K2.5 {@code preprocessor_config.json} values that shape the pixels (spec §4.1). Mean and std are 0.5 for
 * every channel in K2.5 and are therefore baked into the normalisation.
 *
 * @param inPatchLimit          patch budget of one image before padding
 * @param patchLimitOnOneSide   patch budget of either side
 * @param inPatchLimitEachFrame patch budget of each frame of a video chunk
 */
public record PreprocessorConfig(int patchSize, int mergeKernelSize, int inPatchLimit, int patchLimitOnOneSide,
                                 int inPatchLimitEachFrame) {

    public static final PreprocessorConfig K25 = new PreprocessorConfig(14, 2, 16384, 512, 4096);

    public PreprocessorConfig {
        if (patchSize <= 0 || mergeKernelSize <= 0 || inPatchLimit <= 0 || patchLimitOnOneSide <= 0
                || inPatchLimitEachFrame <= 0) {
            throw new IllegalArgumentException("preprocessor limits must be positive: " + patchSize + ", "
                    + mergeKernelSize + ", " + inPatchLimit + ", " + patchLimitOnOneSide + ", " + inPatchLimitEachFrame);
        }
    }

    /** Pixels per merged token side: images are padded to multiples of this (28 for K2.5). */
    public int padMultiple() {
        return patchSize * mergeKernelSize;
    }
}
