package io.peregrine.engine.tokenizer;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.GptBytePairEncodingParams;
import com.knuddels.jtokkit.api.IntArrayList;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * Our byte-pair merge against an independent implementation (JTokkit with the same ranks and pattern) on random
 * text from many scripts, byte-token soup and long runs.
 */
class BpeTwinTest {
    static Encoding jtokkit;
    final KimiTokenizer tok = Tokenizers.bundled();

    @BeforeAll
    static void loadReference() throws IOException {
        Map<byte[], Integer> ranks = new HashMap<>();
        try (InputStream in = KimiTokenizer.class.getResourceAsStream(KimiTokenizer.RESOURCE_DIR + "tiktoken.model");
             BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.US_ASCII))) {
            String line;
            while ((line = r.readLine()) != null) {
                int sp = line.indexOf(' ');
                ranks.put(Base64.getDecoder().decode(line.substring(0, sp)), Integer.parseInt(line.substring(sp + 1)));
            }
        }
        jtokkit = Encodings.newLazyEncodingRegistry().registerGptBytePairEncoding(
                new GptBytePairEncodingParams("kimi-twin", KimiTokenizer.javaPattern(), ranks, Map.of()))
                .getEncoding("kimi-twin").orElseThrow();
    }

    static int[] reference(String s) {
        IntArrayList l = jtokkit.encodeOrdinary(s);
        int[] out = new int[l.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = l.get(i);
        }
        return out;
    }

    @Test
    void randomMixedScriptText() {
        String[] alphabet = {"a", "e", "th", "ing", " ", "  ", "\n", "\r\n", "\t", "'s", "'LL", "0", "12", "3456",
                "中", "文", "の", "한", "é", "e\u0301", "ß", "Ω", "д", "ع", "ה", "ก", "😀", "👩\u200d👩\u200d👧", "🏳️",
                "\u3000", "\u00a0", ".", ",", "!?", "{", "}", "\"", "\\", "<|", "|>", "𠀀", "\u2028", "ǅ", "ʰ"};
        Random rnd = new Random(11);
        for (int trial = 0; trial < 2000; trial++) {
            StringBuilder sb = new StringBuilder();
            for (int i = rnd.nextInt(40); i >= 0; i--) {
                sb.append(alphabet[rnd.nextInt(alphabet.length)]);
            }
            String s = sb.toString();
            assertArrayEquals(reference(s), tok.encodeOrdinary(s), s);
        }
    }

    /** The heap merge (long pieces) against the rescanning merge (short pieces) on the same bytes. */
    @Test
    void heapMergeEqualsRescanningMerge() throws IOException {
        RankTable table = tok.rankTable();
        Random rnd = new Random(5);
        String[] units = {"a", "ab", "中文", "😀", " ", "th", "e", "的", "0", "=", "\n", "é"};
        for (int trial = 0; trial < 1500; trial++) {
            StringBuilder sb = new StringBuilder();
            for (int i = 1 + rnd.nextInt(60); i > 0; i--) {
                sb.append(units[rnd.nextInt(units.length)]);
            }
            byte[] b = sb.toString().getBytes(StandardCharsets.UTF_8);
            if (rnd.nextInt(4) == 0) {
                rnd.nextBytes(b); // arbitrary bytes: every single byte is a token
            }
            int n = b.length;
            int[] quad = new int[n];
            int[] heap = new int[n];
            int cq = BytePairEncoder.encodeRescanning(table, b, n, new int[2 * (n + 1)], quad, 0);
            int ch = BytePairEncoder.encodeWithHeap(table, b, n, heap, 0);
            assertArrayEquals(java.util.Arrays.copyOf(quad, cq), java.util.Arrays.copyOf(heap, ch), sb.toString());
        }
    }

    @Test
    void longPiecesAndRepetitions() {
        for (String unit : new String[] {"a", "ab", "中", "😀", " ", "0", "-", "=", "\n", "xyz "}) {
            for (int reps : new int[] {1, 2, 3, 7, 64, 300, 2000}) {
                String s = unit.repeat(reps);
                assertArrayEquals(reference(s), tok.encodeOrdinary(s), unit + " x " + reps);
            }
        }
    }
}
