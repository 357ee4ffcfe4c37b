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

    /** The special-string scanner against a plain regex alternation on strings full of near-misses. */
    @Test
    void specialScannerAgreesWithRegexAlternation() {
        java.util.regex.Pattern alt = java.util.regex.Pattern.compile(tok.specialTokens().stream()
                .map(SpecialToken::text).sorted(java.util.Comparator.comparingInt(String::length).reversed())
                .map(java.util.regex.Pattern::quote).collect(java.util.stream.Collectors.joining("|")));
        String[] frags = {"<|", "im_end", "|>", "<think>", "</think", ">", "[EOS]", "[EO", "x ", "<|im_end|>",
                "<|reserved_token_163700|>", "[", "<", "tool_call_begin", "<|media_pad|>", "é"};
        java.util.Random rnd = new java.util.Random(3);
        for (int trial = 0; trial < 500; trial++) {
            StringBuilder sb = new StringBuilder();
            for (int i = rnd.nextInt(12); i >= 0; i--) {
                sb.append(frags[rnd.nextInt(frags.length)]);
            }
            String s = sb.toString();
            java.util.List<Integer> want = new java.util.ArrayList<>();
            java.util.regex.Matcher m = alt.matcher(s);
            int last = 0;
            while (m.find()) {
                for (int id : tok.encodeOrdinary(s.substring(last, m.start()))) want.add(id);
                want.add(tok.requireSpecialId(m.group()));
                last = m.end();
            }
            for (int id : tok.encodeOrdinary(s.substring(last))) want.add(id);
            assertArrayEquals(want.stream().mapToInt(Integer::intValue).toArray(),
                    tok.encode(s, SpecialTextPolicy.AS_SPECIAL), s);
        }
    }

    @Test
    void loadsFromACheckpointDirectory() {
        KimiTokenizer fromDir = KimiTokenizer.fromDirectory(java.nio.file.Path.of(
                "src/main/resources/io/peregrine/engine/kimi-k25"));
        assertArrayEquals(tok.encode("Hi <|im_end|> 世界", SpecialTextPolicy.AS_SPECIAL),
                fromDir.encode("Hi <|im_end|> 世界", SpecialTextPolicy.AS_SPECIAL));
        TokenizerException e = assertThrows(TokenizerException.class,
                () -> KimiTokenizer.fromDirectory(java.nio.file.Path.of("no-such-dir")));
        org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("tiktoken.model"));
    }

    @Test
    void badIdsAreNamed() {
        assertThrows(TokenizerException.class, () -> tok.decode(new int[] {-1}));
        assertThrows(TokenizerException.class, () -> tok.decode(new int[] {tok.vocabSize()}));
        assertThrows(TokenizerException.class, () -> tok.requireSpecialId("<|nope|>"));
    }
}
