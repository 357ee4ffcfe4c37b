package io.peregrine.engine.vision.encoder;

import io.peregrine.engine.config.VisionConfig;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.checkpoint.CheckpointException;
import io.peregrine.engine.checkpoint.Tensor;
import io.peregrine.engine.vision.GridThw;
import io.peregrine.engine.vision.preprocess.PreprocessedImage;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * MoonViT-3D + patch merger + projector on ONNX Runtime (CPU provider; the CUDA provider when asked for and the
 * runtime on the class path has it). One {@link #encode} call runs one vision item; ORT sessions are
 * thread-safe, so concurrent calls are fine.
 */
public final class OnnxVisionEncoder implements VisionEncoder {

    /**
     * @param cacheDir      where built models are kept (keyed by the weights; see {@link OnnxModelCache})
     * @param intraOpThreads ORT threads per run; 0 lets ORT choose (all cores)
     * @param cuda          try the CUDA execution provider first
     * @param attention     fused (default; flash attention on CPU) or the plain reference graph
     * @param intermediates also emit the reference's debug tensors (tests)
     */
    public record Options(Path cacheDir, int intraOpThreads, boolean cuda, MoonVitGraph.Attention attention,
                          boolean intermediates) {
        public static Options cpu(Path cacheDir) {
            return new Options(cacheDir, 0, false, MoonVitGraph.Attention.FUSED, false);
        }
    }

    private final VisionConfig cfg;
    private final float[] posTable;
    private final OrtEnvironment env;
    private final OrtSession session;
    private final boolean onCuda;

    private OnnxVisionEncoder(VisionConfig cfg, float[] posTable, OrtEnvironment env, OrtSession session, boolean onCuda) {
        this.cfg = cfg;
        this.posTable = posTable;
        this.env = env;
        this.session = session;
        this.onCuda = onCuda;
    }

    public static OnnxVisionEncoder open(Checkpoint ckpt, Options options) {
        VisionConfig cfg = TowerLimits.config(ckpt);
        Tensor pos = ckpt.tensor("vision_tower.patch_embed.pos_emb.weight");
        if (pos.rank() != 3 || pos.dim(0) != cfg.initPosEmbHeight() || pos.dim(1) != cfg.initPosEmbWidth()
                || pos.dim(2) != cfg.vtHiddenSize()) {
            throw new CheckpointException("vision_tower.patch_embed.pos_emb.weight: expected ["
                    + cfg.initPosEmbHeight() + ", " + cfg.initPosEmbWidth() + ", " + cfg.vtHiddenSize() + "], got " + pos);
        }
        Path model = OnnxModelCache.getOrBuild(ckpt, cfg, options.cacheDir(), options.attention(), options.intermediates());
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions so = new OrtSession.SessionOptions()) {
            if (options.intraOpThreads() > 0) {
                so.setIntraOpNumThreads(options.intraOpThreads());
            }
            boolean cuda = false;
            if (options.cuda()) {
                try {
                    so.addCUDA(0);
                    cuda = true;
                } catch (OrtException | UnsupportedOperationException | UnsatisfiedLinkError e) {
                    cuda = false; // this ORT build has no CUDA provider: stay on CPU
                }
            }
            OrtSession session = env.createSession(model.toString(), so);
            return new OnnxVisionEncoder(cfg, pos.toFloatArray(), env, session, cuda);
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime rejected the vision model " + model + ": " + e.getMessage(), e);
        }
    }

    public VisionConfig config() {
        return cfg;
    }

    public boolean onCuda() {
        return onCuda;
    }

    @Override
    public int outputHidden() {
        return cfg.textHiddenSize();
    }

    @Override
    public VisionEmbeddings encode(PreprocessedImage image) {
        float[] out = run(image, Set.of(MoonVitGraph.PROJECTOR_OUT)).get(MoonVitGraph.PROJECTOR_OUT);
        return new VisionEmbeddings(image.numTokens(), cfg.textHiddenSize(), out);
    }

    /** Runs the graph and returns the requested outputs (names from {@link MoonVitGraph}) as flat arrays. */
    public Map<String, float[]> run(PreprocessedImage image, Set<String> outputs) {
        GridThw grid = image.grid();
        TowerLimits.check(cfg, image);
        int patches = grid.patches();
        int d = cfg.vtHiddenSize();
        int pairs = cfg.headDim() / 2;
        int mk = cfg.mergeKernel();
        float[] pos = VisionPositions.posEmbedding(posTable, cfg.initPosEmbHeight(), cfg.initPosEmbWidth(), d, grid);
        float[][] rope = VisionPositions.rope(cfg.headDim(), grid);
        Map<String, OnnxTensor> in = new HashMap<>();
        try {
            in.put(MoonVitGraph.PIXELS, OnnxTensor.createTensor(env, FloatBuffer.wrap(image.pixelValues()),
                    new long[] {patches, 3L * cfg.patchSize() * cfg.patchSize()}));
            in.put(MoonVitGraph.POS_EMB, OnnxTensor.createTensor(env, FloatBuffer.wrap(pos), new long[] {patches, d}));
            in.put(MoonVitGraph.ROPE_COS, OnnxTensor.createTensor(env, FloatBuffer.wrap(rope[0]), new long[] {patches, 1, pairs}));
            in.put(MoonVitGraph.ROPE_SIN, OnnxTensor.createTensor(env, FloatBuffer.wrap(rope[1]), new long[] {patches, 1, pairs}));
            in.put(MoonVitGraph.MERGE_SHAPE, OnnxTensor.createTensor(env,
                    LongBuffer.wrap(new long[] {grid.t(), grid.h() / mk, mk, grid.w() / mk, mk, d}), new long[] {6}));
            try (OrtSession.Result r = session.run(in, outputs)) {
                Map<String, float[]> result = new LinkedHashMap<>();
                for (String name : outputs) {
                    OnnxTensor t = (OnnxTensor) r.get(name).orElseThrow();
                    FloatBuffer fb = t.getFloatBuffer();
                    float[] a = new float[fb.remaining()];
                    fb.get(a);
                    result.put(name, a);
                }
                return result;
            }
        } catch (OrtException e) {
            throw new IllegalStateException("vision encoder failed on grid " + grid + ": " + e.getMessage(), e);
        } finally {
            in.values().forEach(OnnxTensor::close);
        }
    }

    public static List<String> intermediateNames(VisionConfig cfg) {
        return MoonVitGraph.intermediateNames(cfg.vtNumHiddenLayers());
    }

    @Override
    public void close() {
        try {
            session.close();
        } catch (OrtException e) {
            throw new IllegalStateException("closing the vision ONNX session: " + e.getMessage(), e);
        }
    }
}
