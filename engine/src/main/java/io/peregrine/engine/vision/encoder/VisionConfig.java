package io.peregrine.engine.vision.encoder;

import com.fasterxml.jackson.databind.JsonNode;
import io.peregrine.engine.config.ConfigException;
import io.peregrine.engine.config.ConfigParser;
import io.peregrine.engine.vision.GridThw;
import io.peregrine.engine.vision.preprocess.PreprocessedImage;
import java.nio.file.Path;

/**
 * The {@code vision_config} block of a K2.5 config.json (spec §1.3): MoonViT-3D sizes and the projector's.
 *
 * @param rawJson the block as written, part of the built-model cache key
 */
public record VisionConfig(int patchSize, int hidden, int heads, int layers, int intermediate, int posEmbHeight,
                           int posEmbWidth, int posEmbTime, int mergeKernel, int textHidden, double projectorLnEps,
                           String rawJson) {

    /** nn.LayerNorm's default, used by every norm inside the tower. */
    public static final double TOWER_LN_EPS = 1e-5;

    public VisionConfig {
        if (hidden % heads != 0 || (hidden / heads) % 4 != 0) {
            throw new ConfigException("vision_config: vt_hidden_size " + hidden + " / heads " + heads
                    + " must give a head dim divisible by 4 (2-D RoPE)");
        }
    }

    /** Maximum grid side: the reference's RoPE table is 512 x 512 patches. */
    public static final int MAX_GRID_SIDE = 512;

    /** What the tower accepts, whichever runtime runs it. */
    public void check(PreprocessedImage image) {
        GridThw grid = image.grid();
        if (image.plan().patchSize() != patchSize) {
            throw new IllegalArgumentException("image was patchified with patch " + image.plan().patchSize()
                    + " but the tower uses " + patchSize);
        }
        if (grid.t() > posEmbTime) {
            throw new IllegalArgumentException("video chunk of " + grid.t() + " frames; the tower takes at most "
                    + posEmbTime);
        }
        if (grid.h() > MAX_GRID_SIDE || grid.w() > MAX_GRID_SIDE) {
            throw new IllegalArgumentException("grid " + grid + " exceeds the RoPE table of " + MAX_GRID_SIDE + " patches a side");
        }
        if (grid.h() % mergeKernel != 0 || grid.w() % mergeKernel != 0) {
            throw new IllegalArgumentException("grid " + grid + " is not a multiple of the merge kernel " + mergeKernel);
        }
    }

    public int headDim() {
        return hidden / heads;
    }

    public static VisionConfig read(Path checkpointDir) {
        Path file = checkpointDir.resolve("config.json");
        JsonNode v = ConfigParser.readJson(file).get("vision_config");
        if (v == null || !v.isObject()) {
            throw new ConfigException(file + ": vision_config missing; this checkpoint has no vision tower");
        }
        JsonNode merge = v.get("merge_kernel_size");
        int mk = merge != null && merge.isArray() ? merge.get(0).asInt() : req(file, v, "merge_kernel_size");
        if (merge != null && merge.isArray() && merge.get(1).asInt() != mk) {
            throw new ConfigException(file + ": vision_config.merge_kernel_size must be square, got " + merge);
        }
        String mergeType = v.path("merge_type").asText("sd2_tpool");
        if (!mergeType.equals("sd2_tpool")) {
            throw new ConfigException(file + ": vision_config.merge_type '" + mergeType + "' is not supported (sd2_tpool)");
        }
        return new VisionConfig(req(file, v, "patch_size"), req(file, v, "vt_hidden_size"),
                req(file, v, "vt_num_attention_heads"), req(file, v, "vt_num_hidden_layers"),
                req(file, v, "vt_intermediate_size"), req(file, v, "init_pos_emb_height"),
                req(file, v, "init_pos_emb_width"), req(file, v, "init_pos_emb_time"), mk,
                req(file, v, "text_hidden_size"), v.path("projector_ln_eps").asDouble(1e-5), v.toString());
    }

    private static int req(Path file, JsonNode v, String key) {
        JsonNode n = v.get(key);
        if (n == null || !n.canConvertToInt()) {
            throw new ConfigException(file + ": vision_config." + key + " missing or not an integer");
        }
        return n.asInt();
    }
}
