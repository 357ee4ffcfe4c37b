package io.peregrine.engine.constrain.json;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The byte-level matcher on hand-written texts: what a schema allows is accepted, what it forbids never is. */
class JsonMatcherTest {
    static final ObjectMapper JSON = new ObjectMapper();

    static JsonGrammar grammar(String schema) throws Exception {
        return JsonGrammar.compile(JSON.readTree(schema), true);
    }

    /** Whether the whole text is a complete value of the grammar. */
    static boolean accepts(JsonGrammar g, String text) {
        JsonMatcher m = g.matcher().step(text.getBytes(StandardCharsets.UTF_8));
        return m != null && m.complete();
    }

    /** Whether the text is at least a prefix the grammar allows. */
    static boolean viable(JsonGrammar g, String text) {
        return g.matcher().step(text.getBytes(StandardCharsets.UTF_8)) != null;
    }

    static final String PERSON = """
            {"type":"object","properties":{
              "name":{"type":"string","minLength":1,"maxLength":5},
              "age":{"type":"integer"},
              "tags":{"type":"array","items":{"enum":["a","bc",3,null]},"maxItems":2},
              "nick":{"type":["string","null"]}},
             "required":["name","age"],"additionalProperties":false}""";

    @Test
    void objectsFollowPropertiesRequiredAndAdditionalProperties() throws Exception {
        JsonGrammar g = grammar(PERSON);
        assertTrue(accepts(g, "{\"name\":\"Ann\",\"age\":31}"));
        assertTrue(accepts(g, "{\"age\": -0, \"name\": \"Zoë\", \"tags\": [\"bc\", 3]}"));
        assertTrue(accepts(g, "{\"name\":\"A\",\"age\":1,\"nick\":null}"));
        assertFalse(viable(g, "{\"name\":\"Ann\",\"extra\""), "additionalProperties false");
        assertFalse(viable(g, "{\"name\":\"Ann\",\"name\""), "a property twice");
        assertFalse(viable(g, "{\"name\":\"Ann\"}"), "age is required");
        assertFalse(viable(g, "{\"name\":\"\","), "minLength 1");
        assertFalse(viable(g, "{\"name\":\"abcdef"), "maxLength 5");
        assertFalse(viable(g, "{\"age\":1.5"), "an integer");
        assertFalse(viable(g, "{\"age\":01"), "no leading zeros");
        assertFalse(viable(g, "{\"tags\":[\"b\"]"), "not in the enum");
        assertFalse(viable(g, "{\"tags\":[\"a\",\"a\",\"a\""), "maxItems 2");
        assertFalse(viable(g, "{\"tags\":[\"a\",\"a\"],\"tags\""), "a property twice");
        assertFalse(viable(g, "{  \"name\""), "at most one blank per gap");
        assertTrue(viable(g, "{\n\"name\""));
        assertFalse(accepts(g, "{\"name\":\"Ann\",\"age\":31} "), "nothing after the value");
    }

    @Test
    void stringsAreWellFormedUtf8AndEscapesAreChecked() throws Exception {
        JsonGrammar g = grammar("{\"type\":\"string\",\"maxLength\":3}");
        assertTrue(accepts(g, "\"é😀x\""), "three code points");
        assertFalse(viable(g, "\"é😀xy"), "four");
        assertTrue(accepts(g, "\"\\n\\u00e9\\\"\""));
        assertFalse(viable(g, "\"\\x"), "no such escape");
        assertTrue(accepts(g, "\"\\ud83d\\ude00ab\""), "a surrogate pair escape is one code point");
        assertFalse(viable(g, "\"\\ud83d\\ude00abc"), "four");
        assertFalse(viable(g, "\"\\udc"), "a low surrogate alone, refused at its second digit");
        assertFalse(viable(g, "\"\\ud83dx"), "a high surrogate alone");
        assertFalse(viable(g, "\"\\ud83d\\u0"), "the pair's second half must be a low surrogate");
        assertFalse(viable(g, "\"\n"), "raw control characters");
        byte[] smile = "😀".getBytes(StandardCharsets.UTF_8);
        JsonMatcher m = g.matcher().step(new byte[] {'"', smile[0], smile[1]});
        assertTrue(m != null && !m.complete(), "half a character is a live prefix");
        assertEquals(null, m.step('"'), "but cannot close the string");
        assertEquals(null, g.matcher().step(new byte[] {'"', (byte) 0xC0, (byte) 0x80}), "overlong");
        assertEquals(null, g.matcher().step(new byte[] {'"', (byte) 0xED, (byte) 0xA0}), "encoded surrogate");
    }

    @Test
    void numbersEndAtTheFirstByteThatCannotContinueThem() throws Exception {
        JsonGrammar g = grammar("{\"type\":\"number\"}");
        for (String ok : new String[] {"0", "-1", "1.25", "3e5", "2.5E-3", "-0.0"}) {
            assertTrue(accepts(g, ok), ok);
        }
        for (String bad : new String[] {"01", "-", "1.", ".5", "1e", "+1", "1.5.2"}) {
            assertFalse(accepts(g, bad), bad);
        }
        JsonGrammar arr = grammar("{\"type\":\"array\",\"items\":{\"type\":\"integer\"}}");
        assertTrue(accepts(arr, "[1,22, 333]"));
        assertFalse(viable(arr, "[1.0"));
    }

    @Test
    void anyOfRefsAndRecursion() throws Exception {
        JsonGrammar g = grammar("""
                {"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},
                  "next":{"anyOf":[{"$ref":"#/$defs/node"},{"type":"null"}]}},"required":["v","next"],
                  "additionalProperties":false}},
                 "$ref":"#/$defs/node"}""");
        assertTrue(accepts(g, "{\"v\":1,\"next\":{\"v\":2,\"next\":null}}"));
        assertFalse(viable(g, "{\"v\":1,\"next\":{\"w\""));
        JsonGrammar lit = grammar("{\"enum\":[1,12,\"x\"]}");
        assertTrue(accepts(lit, "1") && accepts(lit, "12") && accepts(lit, "\"x\""));
        assertFalse(viable(lit, "13"));
        assertTrue(accepts(grammar("{\"const\":{\"a\":[1,true]}}"), "{\"a\":[1,true]}"));
    }

    @Test
    void deepRecursionStopsOpeningContainersItCouldNotClose() throws Exception {
        // an object-only tree: at the nesting limit the key "c" (whose value must be another object) is no
        // longer offered, so the text can always close instead of running into a dead end
        JsonGrammar g = grammar("{\"type\":\"object\",\"properties\":{\"c\":{\"$ref\":\"#\"},"
                + "\"v\":{\"type\":\"integer\"}},\"additionalProperties\":false}");
        JsonMatcher m = g.matcher();
        int levels = 0;
        while (true) {
            JsonMatcher deeper = m.step("{\"c\":".getBytes(StandardCharsets.UTF_8));
            if (deeper == null) {
                break;
            }
            m = deeper;
            levels++;
            assertTrue(levels < 1000, "nesting is bounded");
        }
        assertEquals(63, levels, "the root object is level 1, so 63 more fit under the limit of 64");
        JsonMatcher leaf = m.step("{\"v\":1}".getBytes(StandardCharsets.UTF_8));
        assertTrue(leaf != null, "the innermost object can still be written");
        assertTrue(leaf.step("}".repeat(levels).getBytes(StandardCharsets.UTF_8)).complete());
        assertFalse(viable(JsonGrammar.compile(JSON.readTree("{\"type\":\"object\",\"properties\":{\"c\":{"
                + "\"$ref\":\"#\"}},\"additionalProperties\":false}"), true), "{\"c\":" .repeat(64)), "the same limit");
        // a tree whose every node must go deeper has no finite value at all
        assertTrue(refused("{\"type\":\"object\",\"properties\":{\"c\":{\"$ref\":\"#\"}},\"required\":[\"c\"]}",
                false).getMessage().contains("no JSON value"));
    }

    @Test
    void leftRecursiveAnyOfCannotLoop() throws Exception {
        // a = a | string | [a]: the cycle through $ref adds no values, and matching must not chase it forever
        String schema = "{\"$defs\":{\"a\":{\"anyOf\":[{\"$ref\":\"#/$defs/a\"},{\"type\":\"string\"},"
                + "{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/a\"}}]}},\"$ref\":\"#/$defs/a\"}";
        JsonGrammar g = grammar(schema);
        assertTrue(accepts(g, "[\"x\",[\"y\"]]"));
        assertFalse(viable(g, "[1"));
        String oneOf = "{\"$defs\":{\"a\":{\"anyOf\":[{\"$ref\":\"#/$defs/a\"},{\"type\":\"string\"}]}},"
                + "\"oneOf\":[{\"$ref\":\"#/$defs/a\"},{\"type\":\"integer\"}]}";
        assertTrue(accepts(grammar(oneOf), "\"s\"") && accepts(grammar(oneOf), "3"), "disjoint by type");
        assertTrue(refused("{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/b\"},\"b\":{\"$ref\":\"#/$defs/a\"}},"
                + "\"$ref\":\"#/$defs/a\"}", false).getMessage().contains("no JSON value"));
    }

    @Test
    void allOfOfObjectsMerges() throws Exception {
        String base = "{\"$defs\":{\"base\":{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"}},"
                + "\"required\":[\"id\"]}},\"allOf\":[{\"$ref\":\"#/$defs/base\"},{\"properties\":{\"name\":"
                + "{\"type\":\"string\"}},\"required\":[\"name\"]}]";
        JsonGrammar g = grammar(base + "}");
        assertTrue(accepts(g, "{\"id\":1,\"name\":\"x\"}"));
        assertTrue(accepts(g, "{\"other\":[],\"name\":\"x\",\"id\":2}"));
        assertFalse(viable(g, "{\"id\":1}"));
        assertFalse(viable(g, "{\"id\":\"1\""));
        // JSON Schema's classic pitfall: additionalProperties false next to allOf forbids the branches' keys
        assertTrue(refused(base + ",\"additionalProperties\":false}", false).getMessage().contains("forbids"));
    }

    @Test
    void anyObject() {
        JsonGrammar g = JsonGrammar.anyObject();
        assertTrue(accepts(g, "{}"));
        assertTrue(accepts(g, "{\"a\":[1,{\"b\":null},\"x\",false,-2.5e3]}"));
        assertFalse(viable(g, "["), "an object, not any value");
        assertFalse(viable(g, "{\"a\":tru "));
    }

    @Test
    void badSchemasAreRefusedWithTheirPath() throws Exception {
        assertEquals("#/properties/when/format", refused("{\"properties\":{\"when\":{\"type\":\"string\","
                + "\"format\":\"date-time\"}}}", true).path());
        assertTrue(refused("{\"properties\":{\"when\":{\"type\":\"string\",\"format\":\"date-time\"}}}", true)
                .getMessage().contains("'format'"));
        // not strict: best effort, the keyword is dropped
        assertTrue(accepts(JsonGrammar.compile(JSON.readTree("{\"type\":\"string\",\"pattern\":\"^a$\"}"), false),
                "\"b\""));
        assertEquals("#/$ref", refused("{\"$ref\":\"#/$defs/missing\"}", false).path());
        assertTrue(refused("{\"$ref\":\"https://example.com/s.json\"}", false).getMessage().contains("local"));
        assertTrue(refused("{\"type\":\"object\",\"required\":[\"a\"],\"additionalProperties\":false}", false)
                .getMessage().contains("no object can match"));
        assertTrue(refused("{\"type\":\"wat\"}", false).getMessage().contains("unknown type"));
        assertTrue(refused("{\"$ref\":\"#\"}", false).getMessage().contains("no JSON value"));
        assertTrue(refused("{\"type\":\"string\",\"minLength\":3,\"maxLength\":2}", false).getMessage()
                .contains("no JSON value"));
        String deep = "{\"type\":\"array\",\"items\":".repeat(40) + "true" + "}".repeat(40);
        assertTrue(refused(deep, false).getMessage().contains("deeper"));
        assertThrows(SchemaException.class, () -> JsonGrammar.compile(JSON.readTree("[1]"), false));
    }

    @Test
    void strictOneOfMustBeDisjoint() throws Exception {
        // a tagged union (pydantic's discriminated oneOf) and type-disjoint alternatives are exact as anyOf
        JsonGrammar tagged = grammar("""
                {"oneOf":[{"type":"object","properties":{"kind":{"const":"cat"},"lives":{"type":"integer"}},
                           "required":["kind"]},
                          {"type":"object","properties":{"kind":{"enum":["dog"]},"good":{"type":"boolean"}},
                           "required":["kind"]}]}""");
        assertTrue(accepts(tagged, "{\"kind\":\"dog\",\"good\":true}"));
        assertTrue(accepts(grammar("{\"oneOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}"), "7"));
        // overlapping alternatives: a value could match both, which oneOf forbids and the grammar cannot see
        SchemaException e = refused("{\"oneOf\":[{\"type\":\"string\"},{\"type\":\"string\",\"maxLength\":3}]}",
                true);
        assertEquals("#/oneOf", e.path());
        assertTrue(accepts(JsonGrammar.compile(JSON.readTree("{\"oneOf\":[{\"type\":\"string\"},"
                + "{\"type\":\"string\",\"maxLength\":3}]}"), false), "\"ab\""), "best effort when not strict");
    }

    @Test
    void functionParametersAreObjectsOnly() throws Exception {
        JsonGrammar g = JsonGrammar.compileObject(JSON.readTree("{}"), true);
        assertTrue(accepts(g, "{\"a\":1}"));
        assertFalse(viable(g, "1"));
        JsonGrammar mixed = JsonGrammar.compileObject(JSON.readTree("{\"anyOf\":[{\"type\":\"string\"},"
                + "{\"type\":\"object\",\"properties\":{\"q\":{\"type\":\"string\"}},\"required\":[\"q\"]}]}"), true);
        assertTrue(accepts(mixed, "{\"q\":\"x\"}"));
        assertFalse(viable(mixed, "\""));
        assertThrows(SchemaException.class, () -> JsonGrammar.compileObject(JSON.readTree("{\"type\":\"string\"}"),
                true));
    }

    static SchemaException refused(String schema, boolean strict) throws Exception {
        JsonNode s = JSON.readTree(schema);
        return assertThrows(SchemaException.class, () -> JsonGrammar.compile(s, strict));
    }
}
