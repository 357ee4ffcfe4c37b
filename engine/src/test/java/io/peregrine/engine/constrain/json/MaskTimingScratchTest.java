package io.peregrine.engine.constrain.json;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class MaskTimingScratchTest {
    @Test
    void time() throws Exception {
        var V = JsonVocabularyTest.VOCAB;
        JsonGrammar g = JsonGrammar.compile(new ObjectMapper().readTree("""
            {"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},
             "tags":{"type":"array","items":{"type":"string"}},"meta":{"type":"object"}},"required":["name"]}"""), true);
        String[] prefixes = {"", "{", "{\"", "{\"na", "{\"name\":", "{\"name\": \"Jo", "{\"name\": \"Jo\", \"age\": 1",
                "{\"name\": \"Jo\", \"tags\": [", "{\"name\": \"Jo\", \"meta\": {\"", "{\"name\": \"Jo\", \"meta\": {\"k\": "};
        for (String p : prefixes) {
            JsonMatcher m = g.matcher().step(p.getBytes(StandardCharsets.UTF_8));
            long[] bits = new long[(V.regularTokens() + 63) >>> 6];
            for (int i = 0; i < 20; i++) { V.allowed(m, bits); }
            long t0 = System.nanoTime();
            int n = 50;
            for (int i = 0; i < n; i++) { java.util.Arrays.fill(bits, 0); V.allowed(m, bits); }
            long dt = System.nanoTime() - t0;
            int c = 0; for (long b : bits) c += Long.bitCount(b);
            System.out.printf("%-45s %8.3f ms  allowed %d%n", p, dt / 1e6 / n, c);
        }
    }
}
