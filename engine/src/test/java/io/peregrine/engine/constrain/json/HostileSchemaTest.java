package io.peregrine.engine.constrain.json;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * Schemas built to make the matcher's work explode. The engine thread runs a mask at every decode step of every
 * constrained choice, so its cost must stay bounded whatever the schema; measured here in parses and stacks offered
 * (not time), so the test cannot be flaky.
 */
class HostileSchemaTest {
    static final ObjectMapper JSON = new ObjectMapper();
    /** server/README.md's limit on live parses and anyOf alternatives. */
    static final int DOCUMENTED_WIDTH = 32;

    /** Two array alternatives that both recurse: every '[' doubles the parses that are still possible. */
    static final String DOUBLING = """
            {"$defs":{"x":{"anyOf":[{"type":"array","items":{"$ref":"#/$defs/x"}},
              {"type":"array","items":{"$ref":"#/$defs/x"},"maxItems":5}]}},"$ref":"#/$defs/x"}""";

    static JsonGrammar grammar(String schema) throws Exception {
        return JsonGrammar.compile(JSON.readTree(schema), true);
    }

    /** The state after {@code text}, checking the width byte by byte (uncapped, 40 '[' exhaust the heap). */
    static JsonMatcher after(JsonGrammar g, String text) {
        JsonMatcher m = g.matcher();
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < bytes.length; i++) {
            m = m.step(bytes[i] & 0xFF);
            assertNotNull(m, text);
            assertTrue(m.width() <= DOCUMENTED_WIDTH, "width " + m.width() + " after " + (i + 1) + " bytes");
        }
        return m;
    }

    @Test
    void overlappingRecursiveAlternativesStayWithinTheWidthAndTheMaskWorkStopsGrowing() throws Exception {
        JsonGrammar g = grammar(DOUBLING);
        for (int depth = 1; depth <= 14; depth++) {
            assertTrue(after(g, "[".repeat(depth)).width() <= DOCUMENTED_WIDTH, "width after " + depth + " '['");
        }
        long[] bits = new long[(JsonVocabularyTest.VOCAB.regularTokens() + 63) >>> 6];
        long shallow = JsonVocabularyTest.VOCAB.work(after(g, "[".repeat(8)), bits);
        long deep = JsonVocabularyTest.VOCAB.work(after(g, "[".repeat(40)), bits);
        assertEquals(shallow, deep, "a deeper state must not cost more once the width is capped");
        assertTrue(deep < 20_000, "stacks offered by one mask: " + deep);
    }

    @Test
    void theNarrowedGrammarStillClosesAndOnlyProducesValidJson() throws Exception {
        JsonGrammar g = grammar(DOUBLING);
        JsonMatcher m = after(g, "[".repeat(40) + "]".repeat(40));
        assertTrue(m.complete());
        // every token the mask offers deep inside is one the stepper accepts (mask and step agree after the cap)
        JsonMatcher deep = after(g, "[".repeat(20));
        long[] bits = new long[(JsonVocabularyTest.VOCAB.regularTokens() + 63) >>> 6];
        JsonVocabularyTest.VOCAB.allowed(deep, bits);
        assertArrayEquals(JsonVocabularyTest.VOCAB.allowedOneByOne(deep, JsonVocabularyTest.TOK::tokenBytes), bits);
    }

    @Test
    void anyOfWithMoreAlternativesThanTheMatcherFollowsIsRefusedNamingIt() throws Exception {
        assertNotNull(grammar(objects(DOCUMENTED_WIDTH)));
        SchemaException e = assertThrows(SchemaException.class, () -> grammar(objects(DOCUMENTED_WIDTH + 1)));
        assertTrue(e.getMessage().contains("#/properties/v/anyOf") && e.getMessage().contains("at most 32"),
                e.getMessage());
        // nested anyOf count once expanded
        String nested = "{\"anyOf\":[{\"anyOf\":[" + alternatives(0, 20) + "]},{\"anyOf\":["
                + alternatives(20, 20) + "]}]}";
        assertThrows(SchemaException.class, () -> grammar(nested));
    }

    private static String objects(int n) {
        return "{\"type\":\"object\",\"properties\":{\"v\":{\"anyOf\":[" + alternatives(0, n) + "]}}}";
    }

    private static String alternatives(int from, int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = from; i < from + n; i++) {
            sb.append(i > from ? "," : "").append("{\"type\":\"object\",\"properties\":{\"k").append(i)
                    .append("\":{\"type\":\"string\"}},\"additionalProperties\":false}");
        }
        return sb.toString();
    }

    @Test
    void severalParsesInsideStringsTakeTheShortcutAndAllowExactlyWhatTheStepperAccepts() throws Exception {
        JsonGrammar g = grammar("""
                {"anyOf":[{"type":"object","properties":{"a":{"type":"string","maxLength":3}}},
                          {"type":"object","properties":{"a":{"type":"string","maxLength":7}}}]}""");
        JsonMatcher m = after(g, "{\"a\":\"x");
        assertEquals(2, m.width());
        assertEquals(6, m.stringRoom(), "the larger room: a token is allowed when one parse takes it");
        long[] bits = new long[(JsonVocabularyTest.VOCAB.regularTokens() + 63) >>> 6];
        JsonVocabularyTest.VOCAB.allowed(m, bits);
        assertArrayEquals(JsonVocabularyTest.VOCAB.allowedOneByOne(m, JsonVocabularyTest.TOK::tokenBytes), bits);
    }

    /**
     * Near the nesting limit an object may still take its declared key but no longer an additional one (its value
     * needs more levels); the mask's string shortcut offered every plain token there, and the engine thread then
     * failed the request on a token the stepper refused.
     */
    @Test
    void atTheNestingLimitTheMaskOffersOnlyKeysTheStepperTakes() throws Exception {
        JsonGrammar g = grammar("""
                {"type":"object","properties":{"a":{"$ref":"#"}},
                 "additionalProperties":{"type":"array","minItems":1,"items":{"type":"array","minItems":1,
                   "items":{"type":"array","minItems":1,"items":{"type":"string"}}}}}""");
        long[] bits = new long[(JsonVocabularyTest.VOCAB.regularTokens() + 63) >>> 6];
        for (int depth = 55; depth <= 64; depth++) {
            JsonMatcher m = g.matcher().step(("{\"a\":".repeat(depth - 1) + "{\"").getBytes(StandardCharsets.UTF_8));
            if (m == null) {
                break;
            }
            java.util.Arrays.fill(bits, 0L);
            JsonVocabularyTest.VOCAB.allowed(m, bits);
            assertArrayEquals(JsonVocabularyTest.VOCAB.allowedOneByOne(m, JsonVocabularyTest.TOK::tokenBytes), bits,
                    "depth " + depth);
        }
    }
}
