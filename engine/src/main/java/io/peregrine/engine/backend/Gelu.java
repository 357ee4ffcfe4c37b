package io.peregrine.engine.backend;

/** The two GELUs of MoonViT-3D (spec §4.5, §4.7): the tower's MLP uses the tanh form, the projector the exact one. */
public enum Gelu {
    /** {@code 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))} (PyTorch {@code gelu(approximate="tanh")}). */
    TANH,
    /** {@code 0.5·x·(1 + erf(x/√2))} (PyTorch {@code nn.GELU()}). */
    ERF
}
