package io.peregrine.engine.config;

import java.util.List;
import java.util.OptionalInt;

/**
 * {@code media_proc_cfg} of {@code preprocessor_config.json} (optional): how images and video frames become patches
 * (spec §4.1-4.3). A missing file or key takes the documented default in {@link #DEFAULTS}, K2.5's values. The image
 * preprocessor reads the sizes and patch budgets; mean and std are 0.5 for every channel in K2.5 and are baked into
 * its normalisation.
 *
 * @param inPatchLimit          patches allowed per image before padding
 * @param patchLimitOnOneSide   longest side in patches
 * @param fixedOutputTokens     empty when the token count follows from the image size
 * @param inPatchLimitEachFrame patch budget of each frame of a video chunk
 */
public record PreprocessorConfig(
        int patchSize,
        int mergeKernelSize,
        int inPatchLimit,
        int patchLimitOnOneSide,
        OptionalInt fixedOutputTokens,
        List<Double> imageMean,
        List<Double> imageStd,
        int inPatchLimitEachFrame,
        OptionalInt inPatchLimitVideo,
        double sampleFps,
        OptionalInt maxNumFramesEachVideo,
        int temporalMergeKernelSize,
        String timestampMode) {

    public static final PreprocessorConfig DEFAULTS = new PreprocessorConfig(14, 2, 16384, 512, OptionalInt.empty(),
            List.of(0.5, 0.5, 0.5), List.of(0.5, 0.5, 0.5), 4096, OptionalInt.empty(), 2.0, OptionalInt.empty(), 4,
            "hh:mm:ss.fff");

    public PreprocessorConfig {
        if (patchSize <= 0 || mergeKernelSize <= 0 || inPatchLimit <= 0 || patchLimitOnOneSide <= 0
                || inPatchLimitEachFrame <= 0) {
            throw new IllegalArgumentException("preprocessor limits must be positive: " + patchSize + ", "
                    + mergeKernelSize + ", " + inPatchLimit + ", " + patchLimitOnOneSide + ", " + inPatchLimitEachFrame);
        }
        imageMean = List.copyOf(imageMean);
        imageStd = List.copyOf(imageStd);
    }

    /** Pixels per merged token side: images are padded to multiples of this (28 for K2.5). */
    public int padMultiple() {
        return patchSize * mergeKernelSize;
    }
}
