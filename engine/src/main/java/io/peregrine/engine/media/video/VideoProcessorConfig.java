package io.peregrine.engine.media.video;

import com.fasterxml.jackson.databind.JsonNode;

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

    /**
     * Reads {@code media_proc_cfg} of a checkpoint's {@code preprocessor_config.json}. {@code max_num_frames_each_video}
     * is not read: {@code split_video_chunks} never applies it. A non-null {@code in_patch_limit_video} (a budget
     * shared by the frames of a chunk) is refused rather than silently ignored.
     */
    public static VideoProcessorConfig fromMediaProcConfig(JsonNode cfg) {
        if (cfg == null || !cfg.isObject()) {
            throw new IllegalArgumentException("media_proc_cfg is missing or not an object");
        }
        JsonNode videoLimit = cfg.get("in_patch_limit_video");
        if (videoLimit != null && !videoLimit.isNull()) {
            throw new IllegalArgumentException("media_proc_cfg.in_patch_limit_video = " + videoLimit
                    + " is not supported (K2.5 has null)");
        }
        JsonNode each = cfg.get("in_patch_limit_each_frame");
        int eachFrame = each == null || each.isNull() ? required(cfg, "in_patch_limit").asInt()
                : each.asInt();
        JsonNode mode = cfg.get("timestamp_mode");
        return new VideoProcessorConfig(required(cfg, "sample_fps").asDouble(),
                required(cfg, "temporal_merge_kernel_size").asInt(),
                mode == null || mode.isNull() ? TimestampMode.HH_MM_SS_FFF : TimestampMode.fromConfig(mode.asText()),
                required(cfg, "patch_size").asInt(), required(cfg, "merge_kernel_size").asInt(), eachFrame,
                required(cfg, "patch_limit_on_one_side").asInt());
    }

    private static JsonNode required(JsonNode cfg, String name) {
        JsonNode v = cfg.get(name);
        if (v == null || v.isNull() || !v.isNumber()) {
            throw new IllegalArgumentException("media_proc_cfg." + name + " is missing or not a number");
        }
        return v;
    }

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
