package io.peregrine.engine.media.video;

/**
 * The K2.5 {@code media_proc_cfg} values that decide which frames are sampled and how they are grouped (spec §4.1,
 * §4.3). {@code max_num_frames_each_video} and {@code in_patch_limit_video} are null in K2.5 and therefore absent.
 *
 * @param sampleFps                frames per second sampled at most (2.0)
 * @param temporalMergeKernelSize  frames per chunk (4); one chunk is one vision item
 * @param timestampMode            how chunk start times are written
 * @param patchSize                ViT patch side in pixels (14)
 * @param mergeKernelSize          spatial merge (2)
 * @param inPatchLimitEachFrame    patch budget of each frame of a chunk (4096)
 * @param patchLimitOnOneSide      patch budget of either side (512)
 */
public record VideoProcessorConfig(double sampleFps, int temporalMergeKernelSize, TimestampMode timestampMode,
                                   int patchSize, int mergeKernelSize, int inPatchLimitEachFrame,
                                   int patchLimitOnOneSide) {

    public static final VideoProcessorConfig K25 =
            new VideoProcessorConfig(2.0, 4, TimestampMode.HH_MM_SS_FFF, 14, 2, 4096, 512);

    public VideoProcessorConfig {
        if (!(sampleFps > 0) || Double.isInfinite(sampleFps)) {
            throw new IllegalArgumentException("sample_fps must be positive and finite: " + sampleFps);
        }
        if (temporalMergeKernelSize < 1 || patchSize < 1 || mergeKernelSize < 1 || inPatchLimitEachFrame < 1
                || patchLimitOnOneSide < 1) {
            throw new IllegalArgumentException("video processor sizes must be positive: temporal_merge_kernel_size "
                    + temporalMergeKernelSize + ", patch_size " + patchSize + ", merge_kernel_size " + mergeKernelSize
                    + ", in_patch_limit_each_frame " + inPatchLimitEachFrame + ", patch_limit_on_one_side "
                    + patchLimitOnOneSide);
        }
        if (timestampMode == null) {
            throw new IllegalArgumentException("timestamp_mode is null");
        }
    }
}
