package io.peregrine.server.responses;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.api.json.Json;
import io.peregrine.api.responses.ResponseCreateRequest;
import io.peregrine.server.chat.MediaLimits;
import io.peregrine.server.chat.PlanBuilder;
import io.peregrine.server.http.ApiException;
import io.peregrine.server.sampling.SamplingPolicy;
import io.peregrine.server.sampling.SamplingResolver;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The checks every chat-shaped API shares name the field a Responses client sent: the request goes through the
 * plan builder in this API's names, never rewritten as a chat request whose errors are renamed afterwards.
 */
class ResponsesFieldNamesTest {
    private static final ObjectMapper JSON = Json.newMapper();
    private static final ResponsesRequestMapper MAPPER = new ResponsesRequestMapper(
            new PlanBuilder(new SamplingResolver(SamplingPolicy.FREE), new MediaLimits(1, 1)), JSON,
            new ResponseStore(4));

    private static ApiException refused(String fields) throws Exception {
        ResponseCreateRequest r = JSON.readValue("{\"model\":\"m\",\"input\":\"hi\"," + fields + "}",
                ResponseCreateRequest.class);
        return assertThrows(ApiException.class, () -> MAPPER.map(r, List.of("m")), fields);
    }

    @Test
    void jsonSchemaFieldsSitFlatInTextFormat() throws Exception {
        ApiException e = refused("\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"x\","
                + "\"schema\":{\"type\":\"string\",\"pattern\":\"a+\"}}}");
        assertEquals("text.format.schema", e.param());
        assertTrue(e.getMessage().startsWith("text.format.schema: "), e.getMessage());
        assertEquals("text.format.name", refused("\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"a b\"}}")
                .param());
        assertEquals("text.format.type", refused("\"text\":{\"format\":{\"type\":\"xml\"}}").param());
        ApiException notObject = refused("\"text\":{\"format\":\"json\"}");
        assertEquals("text.format", notObject.param());
        assertEquals("text.format must be an object", notObject.getMessage());
    }

    @Test
    void functionToolsAreFlat() throws Exception {
        ApiException e = refused("\"tools\":[{\"type\":\"function\",\"name\":\"f\",\"strict\":true,"
                + "\"parameters\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"pattern\":\"a+\"}}}}]");
        assertEquals("tools[0].parameters", e.param());
        assertTrue(e.getMessage().startsWith("tools[0].parameters: "), e.getMessage());
        ApiException dup = refused("\"tools\":[{\"type\":\"function\",\"name\":\"f\"},"
                + "{\"type\":\"function\",\"name\":\"f\"}]");
        assertEquals("tools[1].name", dup.param());
        assertEquals("duplicate tool name 'f'", dup.getMessage());
        ApiException badName = refused("\"tools\":[{\"type\":\"function\",\"name\":\"no spaces\"}]");
        assertEquals("tools[0].name", badName.param());
        assertEquals("tools[0].name must be 1-64 letters, digits, '_' or '-'", badName.getMessage());
        assertEquals("tools[0].parameters", refused("\"tools\":[{\"type\":\"function\",\"name\":\"f\","
                + "\"parameters\":[1]}]").param());
    }

    @Test
    void reasoningEffortIsNested() throws Exception {
        ApiException e = refused("\"thinking\":{\"type\":\"enabled\"},\"reasoning\":{\"effort\":\"low\"}");
        assertEquals("reasoning.effort", e.param());
        assertEquals("Send either 'thinking' or 'reasoning.effort', not both", e.getMessage());
        assertEquals("reasoning.effort", refused("\"reasoning\":{\"effort\":\"huge\"}").param());
    }

    @Test
    void aConversationLimitNamesInput() throws Exception {
        String image = "{\"type\":\"input_image\",\"image_url\":\"data:image/png;base64,AAAA\"}";
        ApiException e = assertThrows(ApiException.class, () -> MAPPER.map(JSON.readValue(
                "{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":[" + image + "," + image + "]}]}",
                ResponseCreateRequest.class), List.of("m")));
        assertEquals("input", e.param());
        assertEquals("Too many images: 2 in this request, the limit is 1", e.getMessage());
    }

    @Test
    void namesBothApisShareAreTheSame() throws Exception {
        assertEquals("temperature", refused("\"temperature\":3").param());
        assertEquals("tool_choice", refused("\"tools\":[{\"type\":\"function\",\"name\":\"f\"}],"
                + "\"tool_choice\":{\"type\":\"function\",\"name\":\"g\"}").param());
        assertEquals("tool_choice", refused("\"tool_choice\":\"required\"").param());
        assertEquals("max_output_tokens", refused("\"max_output_tokens\":0").param());
    }
}
