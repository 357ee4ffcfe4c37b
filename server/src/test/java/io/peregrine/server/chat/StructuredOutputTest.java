package io.peregrine.server.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.api.chat.FunctionDefinition;
import io.peregrine.api.chat.Tool;
import io.peregrine.engine.constrain.json.JsonGrammar;
import io.peregrine.server.http.ApiException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** response_format and strict tools read into grammars, with their 400s. */
class StructuredOutputTest {
    static final ObjectMapper JSON = new ObjectMapper();

    static JsonNode json(String s) throws Exception {
        return JSON.readTree(s);
    }

    static boolean accepts(JsonGrammar g, String text) {
        var m = g.matcher().step(text.getBytes(StandardCharsets.UTF_8));
        return m != null && m.complete();
    }

    @Test
    void theThreeTypes() throws Exception {
        assertNull(StructuredOutput.content(null));
        assertNull(StructuredOutput.content(json("{\"type\":\"text\"}")));
        assertSame(JsonGrammar.anyObject(), StructuredOutput.content(json("{\"type\":\"json_object\"}")));
        JsonGrammar g = StructuredOutput.content(json("{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"n\","
                + "\"schema\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}},"
                + "\"required\":[\"a\"]}}}"));
        assertTrue(accepts(g, "{\"a\":1}"));
        assertTrue(!accepts(g, "{}"));
    }

    @Test
    void jsonSchemaIsStrictUnlessToldOtherwise() throws Exception {
        String schema = "{\"type\":\"string\",\"format\":\"email\"}";
        ApiException e = assertThrows(ApiException.class, () -> StructuredOutput.content(json(
                "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"n\",\"schema\":" + schema + "}}")));
        assertEquals("response_format.json_schema.schema", e.param());
        assertTrue(e.getMessage().contains("'format'") && e.getMessage().contains("#/format"), e.getMessage());
        assertNotNull(StructuredOutput.content(json("{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"n\","
                + "\"strict\":false,\"schema\":" + schema + "}}")));
    }

    @Test
    void malformedFormatsName400sTheField() throws Exception {
        assertEquals("response_format.type", badParam("{\"type\":\"xml\"}"));
        assertEquals("response_format", badParam("\"json\""));
        assertEquals("response_format.json_schema.name",
                badParam("{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"a b\",\"schema\":{}}}"));
        assertEquals("response_format.json_schema.strict",
                badParam("{\"type\":\"json_schema\",\"json_schema\":{\"strict\":\"yes\",\"schema\":{}}}"));
    }

    private static String badParam(String responseFormat) {
        return assertThrows(ApiException.class, () -> StructuredOutput.content(json(responseFormat))).param();
    }

    @Test
    void onlyStrictToolsGetTheirSchema() throws Exception {
        JsonNode params = json("{\"type\":\"object\",\"properties\":{\"q\":{\"type\":\"string\",\"pattern\":\"x\"}}}");
        List<Tool> loose = List.of(new Tool("function", new FunctionDefinition("search", null, params, null)),
                new Tool("function", new FunctionDefinition("other", null, params, false)));
        assertTrue(StructuredOutput.arguments(loose).isEmpty(), "not strict: any object, schema not even compiled");
        List<Tool> strict = List.of(new Tool("function", new FunctionDefinition("ok", null,
                json("{\"type\":\"object\",\"properties\":{\"q\":{\"type\":\"string\"}}}"), true)),
                new Tool("function", new FunctionDefinition("bad", null, params, true)));
        ApiException e = assertThrows(ApiException.class, () -> StructuredOutput.arguments(strict));
        assertEquals("tools[1].function.parameters", e.param());
        assertTrue(e.getMessage().contains("'pattern'"), e.getMessage());
        var grammars = StructuredOutput.arguments(strict.subList(0, 1));
        assertTrue(accepts(grammars.get("ok"), "{\"q\":\"x\"}"));
    }
}
