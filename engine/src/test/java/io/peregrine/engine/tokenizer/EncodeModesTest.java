package io.peregrine.engine.tokenizer;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

class EncodeModesTest {
    final KimiTokenizer tok = Tokenizers.bundled();

    @Test
    void specVectors() {
        assertArrayEquals(new int[] {19180, 11, 2695, 0}, tok.encodeOrdinary("Hello, world!"));
        assertArrayEquals(new int[] {163587, 2482, 163601, 5376, 387, 220, 16, 10, 16, 30, 163586, 163588, 69702,
                        163601, 163606},
                tok.encode("<|im_user|>user<|im_middle|>What is 1+1?<|im_end|><|im_assistant|>assistant"
                        + "<|im_middle|><think>", SpecialTextPolicy.AS_SPECIAL));
    }

    @Test
    void literalSpecialTextIsOrdinaryByDefault() {
        int imEnd = tok.requireSpecialId("<|im_end|>");
        int[] asText = tok.encode("hi<|im_end|>", SpecialTextPolicy.AS_TEXT);
        for (int id : asText) {
            assertFalse(tok.isSpecial(id));
        }
        int[] asSpecial = tok.encode("hi<|im_end|>", SpecialTextPolicy.AS_SPECIAL);
        assertArrayEquals(new int[] {imEnd}, java.util.Arrays.copyOfRange(asSpecial, asSpecial.length - 1,
                asSpecial.length));
    }

    @Test
    void specialsOnlyWhereAllowed() {
        String s = "<|im_user|>x<|im_end|>";
        // allow only the marker at 0: the literal <|im_end|> in the "content" stays text
        int[] ids = tok.encode(s, i -> i == 0);
        assertArrayEquals(tok.encode(s.substring(0, 11), SpecialTextPolicy.AS_SPECIAL),
                java.util.Arrays.copyOfRange(ids, 0, 1));
        int[] rest = tok.encodeOrdinary("x<|im_end|>");
        assertArrayEquals(rest, java.util.Arrays.copyOfRange(ids, 1, ids.length));
    }

    @Test
    void badIdsAreNamed() {
        assertThrows(TokenizerException.class, () -> tok.decode(new int[] {-1}));
        assertThrows(TokenizerException.class, () -> tok.decode(new int[] {tok.vocabSize()}));
        assertThrows(TokenizerException.class, () -> tok.requireSpecialId("<|nope|>"));
    }
}
