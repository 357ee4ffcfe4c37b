package io.peregrine.engine.constrain.json;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.engine.tokenizer.KimiTokenizer;
import io.peregrine.engine.tokenizer.Tokenizers;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The grammar against the real Kimi vocabulary: random schemas, random walks through the tokens the mask allows,
 * and an independent validator (networknt json-schema-validator) as the judge of what comes out.
 */
class JsonVocabularyTest {
    static final KimiTokenizer TOK = Tokenizers.bundled();
    static final JsonVocabulary VOCAB = JsonVocabulary.of(TOK::tokenBytes, TOK.numRegularTokens());
    static final ObjectMapper JSON = new ObjectMapper();
    /** Emoji as raw UTF-8, not escaped surrogates: keys take no escapes (a documented output rule). */
    static final ObjectMapper COMPACT_UTF8 = com.fasterxml.jackson.databind.json.JsonMapper.builder()
            .enable(com.fasterxml.jackson.core.json.JsonWriteFeature.COMBINE_UNICODE_SURROGATES_IN_UTF8).build();

    static final int[] SINGLE_BYTE = java.util.stream.IntStream.range(0, TOK.numRegularTokens())
            .filter(t -> TOK.tokenBytes(t).length == 1).toArray();

    static final int[] SINGLE_BYTE_OF = new int[128];

    static {
        java.util.Arrays.fill(SINGLE_BYTE_OF, -1);
        for (int t : SINGLE_BYTE) {
            int c = TOK.tokenBytes(t)[0];
            if (c >= 0 && c < 128) {
                SINGLE_BYTE_OF[c] = t;
            }
        }
    }

    /** A walk's text, and the states it passed through. */
    record Walk(String text, boolean finished, List<JsonMatcher> states) {}

    static List<Integer> allowed(JsonMatcher m) {
        long[] bits = new long[(VOCAB.regularTokens() + 63) >>> 6];
        VOCAB.allowed(m, bits);
        List<Integer> ids = new ArrayList<>();
        for (int t = 0; t < VOCAB.regularTokens(); t++) {
            if ((bits[t >>> 6] >>> t & 1) != 0) {
                ids.add(t);
            }
        }
        return ids;
    }

    /**
     * Walks the grammar through allowed tokens: single-byte tokens half the time (so strings and arrays close
     * sooner), closing quotes and brackets more often after a while; stops at a complete value now and then.
     */
    static Walk walk(JsonGrammar g, SplittableRandom r, int maxSteps) {
        JsonMatcher m = g.matcher();
        ByteArrayOutputStream text = new ByteArrayOutputStream();
        List<JsonMatcher> states = new ArrayList<>();
        for (int step = 0; step < maxSteps; step++) {
            states.add(m);
            if (m.complete() && (m.finished() || r.nextInt(3) == 0)) {
                return new Walk(text.toString(StandardCharsets.UTF_8), true, states);
            }
            long[] bits = new long[(VOCAB.regularTokens() + 63) >>> 6];
            VOCAB.allowed(m, bits);
            int count = 0;
            for (long w : bits) {
                count += Long.bitCount(w);
            }
            if (count == 0) {
                assertTrue(m.complete(), "dead end: no token allowed after '" + text + "'");
                return new Walk(text.toString(StandardCharsets.UTF_8), true, states);
            }
            List<Integer> single = new ArrayList<>();
            List<Integer> closers = new ArrayList<>();
            for (int t : SINGLE_BYTE) {
                if ((bits[t >>> 6] >>> t & 1) != 0) {
                    single.add(t);
                    byte c = TOK.tokenBytes(t)[0];
                    if (c == '"' || c == '}' || c == ']') {
                        closers.add(t);
                    }
                }
            }
            int t = -1;
            if (step > 40 && r.nextInt(5) > 0) {
                // head for the end: the first of these the grammar allows closes strings, containers and words
                for (char c : "\"}]:0nultrefas".toCharArray()) {
                    int id = SINGLE_BYTE_OF[c];
                    if (id >= 0 && (bits[id >>> 6] >>> id & 1) != 0) {
                        t = id;
                        break;
                    }
                }
            }
            if (t >= 0) {
                // chosen above
            } else if (step > 40 && !closers.isEmpty() && r.nextBoolean()) {
                t = closers.get(r.nextInt(closers.size()));
            } else if (!single.isEmpty() && r.nextBoolean()) {
                t = single.get(r.nextInt(single.size()));
            } else {
                int k = r.nextInt(count);
                t = -1;
                for (int w = 0; t < 0; w++) {
                    int c = Long.bitCount(bits[w]);
                    if (k < c) {
                        long x = bits[w];
                        for (int j = 0; j < k; j++) {
                            x &= x - 1;
                        }
                        t = w * 64 + Long.numberOfTrailingZeros(x);
                    }
                    k -= c;
                }
            }
            byte[] b = TOK.tokenBytes(t);
            m = m.step(b);
            assertNotNull(m, "an allowed token was refused");
            text.writeBytes(b);
        }
        return new Walk(text.toString(StandardCharsets.UTF_8), false, states);
    }

    @Test
    void randomWalksOverTheRealVocabularyEndInTextTheValidatorAccepts() throws Exception {
        SplittableRandom r = new SplittableRandom(42);
        RandomSchemas schemas = new RandomSchemas(r);
        int finished = 0;
        int compiled = 0;
        for (int i = 0; i < 80; i++) {
            JsonNode schema = schemas.document();
            JsonGrammar g;
            try {
                g = JsonGrammar.compile(schema, true);
            } catch (SchemaException e) {
                continue; // unsatisfiable random schemas are refused; tested elsewhere
            }
            compiled++;
            Walk w = walk(g, r, 300);
            if (!w.finished()) {
                continue;
            }
            finished++;
            JsonNode value = JSON.readTree(w.text());
            assertTrue(RandomSchemas.valid(schema, value), "schema " + schema + "\nallowed invalid text " + w.text());
        }
        assertTrue(compiled >= 45, "compiled " + compiled);
        // a walk that must guess a required key among open ones may run out of steps; it still never dead-ended
        assertTrue(finished >= compiled / 2 && finished >= 25, finished + " of " + compiled + " walks finished");
    }

    @Test
    void theTrieWalkAllowsExactlyTheTokensTheMatcherAcceptsOneByOne() throws Exception {
        SplittableRandom r = new SplittableRandom(7);
        RandomSchemas schemas = new RandomSchemas(r);
        int checked = 0;
        for (int i = 0; i < 8; i++) {
            JsonGrammar g;
            try {
                g = JsonGrammar.compile(schemas.document(), false);
            } catch (SchemaException e) {
                continue;
            }
            Walk w = walk(g, r, 60);
            for (int k = 0; k < 3; k++) {
                JsonMatcher m = w.states().get(r.nextInt(w.states().size()));
                long[] fast = new long[(VOCAB.regularTokens() + 63) >>> 6];
                VOCAB.allowed(m, fast);
                assertArrayEquals(VOCAB.allowedOneByOne(m, TOK::tokenBytes), fast);
                checked++;
            }
        }
        // inside a string with room left: the plain-text shortcut
        JsonMatcher inString = JsonGrammar.compile(JSON.readTree("{\"type\":\"string\",\"maxLength\":3}"), true)
                .matcher().step("\"é".getBytes(StandardCharsets.UTF_8));
        long[] fast = new long[(VOCAB.regularTokens() + 63) >>> 6];
        VOCAB.allowed(inString, fast);
        assertArrayEquals(VOCAB.allowedOneByOne(inString, TOK::tokenBytes), fast);
        assertTrue(checked >= 12, "checked " + checked);
    }

    @Test
    void theMatcherTakesExactlyTheValidValues() throws Exception {
        // the other direction: near-miss JSON values (the schemas' own names and enum values, random structure);
        // whatever the matcher takes as a whole value must validate, and it must refuse the rest
        SplittableRandom r = new SplittableRandom(11);
        RandomSchemas schemas = new RandomSchemas(r);
        int accepted = 0;
        int refused = 0;
        for (int i = 0; i < 150; i++) {
            JsonNode schema = schemas.document();
            JsonGrammar g;
            try {
                g = JsonGrammar.compile(schema, true);
            } catch (SchemaException e) {
                continue;
            }
            for (int k = 0; k < 20; k++) {
                JsonNode value = randomValue(r, 3);
                JsonMatcher m = g.matcher().step(COMPACT_UTF8.writeValueAsBytes(value));
                boolean matched = m != null && m.complete();
                boolean valid = RandomSchemas.valid(schema, value);
                // both ways: these values keep to the output rules (compact, no escapes in keys, short numbers), so
                // the grammar must take every valid one too, or it would forbid answers the schema allows
                assertEquals(valid, matched, "schema " + schema + "\n" + (matched ? "matched invalid " : "refused valid ")
                        + value);
                if (matched) {
                    accepted++;
                } else {
                    refused++;
                }
            }
        }
        assertTrue(accepted > 100 && refused > 100, accepted + " accepted, " + refused + " refused");
    }

    static JsonNode randomValue(SplittableRandom r, int depth) {
        var f = com.fasterxml.jackson.databind.node.JsonNodeFactory.instance;
        switch (depth <= 0 ? r.nextInt(6) : r.nextInt(8)) {
            case 0:
                return f.textNode(new String[] {"red", "fixed", "", "ab", "é\"\\", "long string", "😀x", "ключ"}[r.nextInt(8)]);
            case 1:
                return f.numberNode(new int[] {0, 1, 12, -3}[r.nextInt(4)]);
            case 2:
                return f.numberNode(2.5);
            case 3:
                return f.booleanNode(r.nextBoolean());
            case 4:
                return f.nullNode();
            case 5:
                return f.objectNode().put("k", 2.5);
            case 6: {
                var o = f.objectNode();
                int n = r.nextInt(4);
                for (int i = 0; i < n; i++) {
                    o.set(RandomSchemas.NAMES[r.nextInt(RandomSchemas.NAMES.length)], randomValue(r, depth - 1));
                }
                if (r.nextInt(4) == 0) {
                    var list = o.putObject("head");
                    list.put("v", 1);
                    list.putNull("next");
                }
                return o;
            }
            default: {
                var a = f.arrayNode();
                int n = r.nextInt(4);
                for (int i = 0; i < n; i++) {
                    a.add(randomValue(r, depth - 1));
                }
                return a;
            }
        }
    }

    @Test
    void byteIdenticalTokensAreAllAllowed() throws Exception {
        byte[][] toks = {"{".getBytes(), "\"".getBytes(), "{".getBytes(), "a".getBytes(), "{\"".getBytes(), "{".getBytes()};
        JsonVocabulary v = JsonVocabulary.of(id -> toks[id].clone(), toks.length);
        long[] bits = new long[1];
        v.allowed(JsonGrammar.anyObject().matcher(), bits);
        assertEquals(0b110101L, bits[0], "every '{' (0, 2, 5) and '{\"' (4)");
    }

    @Test
    void theKeysOfAClosedObjectAreOnlyItsDeclaredNames() throws Exception {
        JsonGrammar g = JsonGrammar.compile(JSON.readTree("{\"type\":\"object\",\"properties\":{\"city\":"
                + "{\"type\":\"string\"},\"unit\":{\"enum\":[\"C\",\"F\"]}},\"additionalProperties\":false}"), true);
        JsonMatcher key = g.matcher().step("{\"".getBytes(StandardCharsets.UTF_8));
        for (int t : allowed(key)) {
            String s = new String(TOK.tokenBytes(t), StandardCharsets.UTF_8);
            assertTrue("city\"".startsWith(s) || "unit\"".startsWith(s) || s.startsWith("city\"")
                    || s.startsWith("unit\""), s);
        }
        JsonMatcher unit = g.matcher().step("{\"unit\": \"".getBytes(StandardCharsets.UTF_8));
        for (int t : allowed(unit)) {
            String s = new String(TOK.tokenBytes(t), StandardCharsets.UTF_8);
            assertTrue("C\"".startsWith(s) || "F\"".startsWith(s) || s.startsWith("C\"") || s.startsWith("F\""), s);
        }
        assertFalse(allowed(unit).isEmpty());
    }
}
