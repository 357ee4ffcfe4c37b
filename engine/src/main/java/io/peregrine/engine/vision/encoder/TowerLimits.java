package io.peregrine.engine.vision.encoder;

import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.config.ConfigException;
import io.peregrine.engine.config.VisionConfig;
import io.peregrine.engine.vision.GridThw;
import io.peregrine.engine.vision.preprocess.PreprocessedImage;

/** What the tower accepts, whichever runtime runs it. */
final class TowerLimits {
    private TowerLimits() {}

    /** The checkpoint's {@code vision_config}, as the tower runs it. */
    static VisionConfig config(Checkpoint ckpt) {
        return ckpt.config().vision()
                .orElseThrow(() -> new ConfigException(ckpt.dir().resolve("config.json")
                        + ": vision_config missing; this checkpoint has no vision tower"))
                .requireSupportedTower();
    }

    static void check(VisionConfig cfg, PreprocessedImage image) {
        GridThw grid = image.grid();
        if (image.plan().patchSize() != cfg.patchSize()) {
            throw new IllegalArgumentException("image was patchified with patch " + image.plan().patchSize()
                    + " but the tower uses " + cfg.patchSize());
        }
        if (grid.t() > cfg.initPosEmbTime()) {
            throw new IllegalArgumentException("video chunk of " + grid.t() + " frames; the tower takes at most "
                    + cfg.initPosEmbTime());
        }
        if (grid.h() > VisionConfig.MAX_GRID_SIDE || grid.w() > VisionConfig.MAX_GRID_SIDE) {
            throw new IllegalArgumentException("grid " + grid + " exceeds the RoPE table of "
                    + VisionConfig.MAX_GRID_SIDE + " patches a side");
        }
        if (grid.h() % cfg.mergeKernel() != 0 || grid.w() % cfg.mergeKernel() != 0) {
            throw new IllegalArgumentException("grid " + grid + " is not a multiple of the merge kernel "
                    + cfg.mergeKernel());
        }
    }
}
