package io.peregrine.engine.model;

import io.peregrine.engine.config.RopeScaling;
import io.peregrine.engine.config.TextConfig;

/**
 * RoPE frequencies with YaRN scaling and the attention softmax scale, computed the way the reference
 * ({@code DeepseekV3YarnRotaryEmbedding}, spec §3.3) does: frequencies in fp32, the correction range from the
 * beta parameters, a linear ramp between the interpolated and extrapolated frequencies.
 *
 * @param invFreq   one frequency per rotated pair ({@code qk_rope_head_dim / 2})
 * @param cosSinScale multiplier of cos and sin ({@code mscale / mscale_all_dim} ratio; 1.0 for K2.5)
 * @param softmaxScale {@code qk_head_dim^-0.5 · mscale²}
 */
public record YarnRope(float[] invFreq, float cosSinScale, float softmaxScale) {

    public static YarnRope of(TextConfig c) {
        int dim = c.qkRopeHeadDim();
        if (dim <= 0 || dim % 2 != 0) {
            throw new IllegalArgumentException("qk_rope_head_dim must be positive and even, got " + dim);
        }
        RopeScaling rs = c.ropeScaling() == null ? RopeScaling.NONE : c.ropeScaling();
        double base = c.ropeTheta();
        int half = dim / 2;
        float[] extra = new float[half];
        float[] inter = new float[half];
        float factor = (float) rs.factor();
        for (int i = 0; i < half; i++) {
            float pow = (float) Math.pow(base, (float) (2 * i) / dim);
            extra[i] = 1f / pow;
            inter[i] = 1f / (factor * pow);
        }
        double softmaxScale = 1.0 / Math.sqrt(c.qkHeadDim());
        if (!rs.isYarn()) {
            if (!"none".equals(rs.type()) && !"default".equals(rs.type())) {
                throw new IllegalArgumentException("unsupported rope_scaling type '" + rs.type() + "' (yarn or none)");
            }
            return new YarnRope(extra, 1f, (float) softmaxScale);
        }
        double low = Math.max(Math.floor(correctionDim(rs.betaFast(), dim, base, rs.originalMaxPositionEmbeddings())), 0);
        double high = Math.min(Math.ceil(correctionDim(rs.betaSlow(), dim, base, rs.originalMaxPositionEmbeddings())), dim - 1);
        if (low == high) {
            high += 0.001;
        }
        float[] inv = new float[half];
        for (int i = 0; i < half; i++) {
            float ramp = (float) ((i - low) / (high - low));
            ramp = Math.min(1f, Math.max(0f, ramp));
            float extraWeight = 1f - ramp;
            inv[i] = inter[i] * (1f - extraWeight) + extra[i] * extraWeight;
        }
        float cosSin = (float) (mscale(rs.factor(), rs.mscale()) / mscale(rs.factor(), rs.mscaleAllDim()));
        if (rs.mscaleAllDim() != 0) {
            double m = mscale(rs.factor(), rs.mscaleAllDim());
            softmaxScale *= m * m;
        }
        return new YarnRope(inv, cosSin, (float) softmaxScale);
    }

    /** {@code yarn_get_mscale}: the attention temperature of a context stretched by {@code scale}. */
    static double mscale(double scale, double m) {
        return scale <= 1 ? 1.0 : 0.1 * m * Math.log(scale) + 1.0;
    }

    /** {@code yarn_find_correction_dim}: the dimension whose wavelength fits {@code rotations} turns in the original context. */
    static double correctionDim(double rotations, int dim, double base, int originalMax) {
        return dim * Math.log(originalMax / (rotations * 2 * Math.PI)) / (2 * Math.log(base));
    }
}
