package io.peregrine.engine.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IncrementalDetokenizerTest {
    final KimiTokenizer tok = Tokenizers.bundled();

    @Test
    void multiByteCharacterSplitAcrossTokensIsHeldBack() {
        // 🤗 is three tokens (golden decode case): f0 9f | a4 | 97
        int[] ids = {5885, 97, 245};
        IncrementalDetokenizer d = new IncrementalDetokenizer(tok, false);
        assertEquals("", d.push(ids[0]));
        assertTrue(d.hasPending());
        assertEquals("", d.push(ids[1]));
        assertEquals("\uD83E\uDD17", d.push(ids[2]));
        assertFalse(d.hasPending());
        assertEquals("", d.flush());
    }

    @Test
    void truncatedCharacterBecomesReplacementOnFlush() {
        IncrementalDetokenizer d = new IncrementalDetokenizer(tok, false);
        assertEquals("", d.push(5885));
        assertEquals(tok.decode(new int[] {5885}), d.flush());
        assertEquals("\uFFFD", tok.decode(new int[] {5885}));
    }

    @Test
    void anyTextStreamsToTheSameStringAsOneShotDecode() {
        Random rnd = new Random(7);
        String[] samples = {"Hello, 世界! 🤗👩‍👩‍👧 café naïve", "𠀀𠀁 Ελληνικά עברית हिन्दी ไทย",
                "<|im_end|> literal and \r\n tabs\t", "🏳️‍🌈 keycap 1️⃣ z̸̛a̶l̷g̴o"};
        for (String s : samples) {
            int[] ids = tok.encode(s, SpecialTextPolicy.AS_SPECIAL);
            IncrementalDetokenizer d = new IncrementalDetokenizer(tok, false);
            StringBuilder sb = new StringBuilder();
            for (int id : ids) {
                String part = d.push(id);
                assertFalse(part.contains("\uFFFD"), "valid input must never stream a replacement char");
                sb.append(part);
            }
            assertFalse(d.hasPending());
            assertEquals(s, sb.toString());
        }
        // Random ids, including byte tokens that form invalid UTF-8 and specials.
        for (int trial = 0; trial < 300; trial++) {
            int[] ids = new int[1 + rnd.nextInt(20)];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = rnd.nextInt(4) == 0 ? rnd.nextInt(256) : rnd.nextInt(tok.vocabSize());
            }
            IncrementalDetokenizer d = new IncrementalDetokenizer(tok, false);
            StringBuilder sb = new StringBuilder();
            for (int id : ids) {
                sb.append(d.push(id));
            }
            sb.append(d.flush());
            assertEquals(tok.decode(ids), sb.toString(), java.util.Arrays.toString(ids));
        }
    }

    @Test
    void skipSpecialDropsFlaggedTokensButKeepsMarkers() {
        int imEnd = tok.requireSpecialId("<|im_end|>");
        int think = tok.requireSpecialId("<think>");
        IncrementalDetokenizer d = new IncrementalDetokenizer(tok, true);
        assertEquals("", d.push(imEnd));
        assertEquals("<think>", d.push(think));
        IncrementalDetokenizer raw = new IncrementalDetokenizer(tok, false);
        assertEquals("<|im_end|>", raw.push(imEnd));
    }
}
