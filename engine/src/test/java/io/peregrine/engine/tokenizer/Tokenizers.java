package io.peregrine.engine.tokenizer;

/** The bundled tokenizer, loaded once per test JVM (loading 163k ranks takes a noticeable fraction of a second). */
public final class Tokenizers {
    private static KimiTokenizer bundled;

    private Tokenizers() {}

    public static synchronized KimiTokenizer bundled() {
        if (bundled == null) {
            bundled = KimiTokenizer.bundled();
        }
        return bundled;
    }
}
