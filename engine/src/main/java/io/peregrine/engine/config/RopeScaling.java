package io.peregrine.engine.config;

/** {@code rope_scaling} of a DeepSeek-V3-style text config (YaRN in K2.5). */
public record RopeScaling(String type, double factor, int originalMaxPositionEmbeddings, double betaFast,
                          double betaSlow, double mscale, double mscaleAllDim) {

    /** No scaling: plain RoPE with the config's theta. */
    public static final RopeScaling NONE = new RopeScaling("none", 1.0, 0, 0, 0, 1.0, 0.0);

    public boolean isYarn() {
        return "yarn".equals(type);
    }
}
