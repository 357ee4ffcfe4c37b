package io.peregrine.server.anthropic;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.api.anthropic.MessagesRequest;
import io.peregrine.api.json.Json;
import io.peregrine.server.chat.MediaLimits;
import io.peregrine.server.chat.PlanBuilder;
import io.peregrine.server.http.ApiException;
import io.peregrine.server.sampling.SamplingPolicy;
import io.peregrine.server.sampling.SamplingResolver;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The checks every chat-shaped API shares name the field an Anthropic client sent. */
class MessagesFieldNamesTest {
    private static final ObjectMapper JSON = Json.newMapper();
    private static final MessagesRequestMapper MAPPER = new MessagesRequestMapper(
            new PlanBuilder(new SamplingResolver(SamplingPolicy.FREE), new MediaLimits(1, 1)));

    private static ApiException refused(String fields) throws Exception {
        JsonNode tree = JSON.readTree("{\"model\":\"m\",\"max_tokens\":8," + fields + "}");
        MessagesRequest r = JSON.treeToValue(tree, MessagesRequest.class);
        return assertThrows(ApiException.class, () -> MAPPER.map(r, tree, List.of("m"), false), fields);
    }

    private static final String HI = "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";

    @Test
    void toolNamesSitAtTheToolsTopLevel() throws Exception {
        ApiException dup = refused(HI + ",\"tools\":[{\"name\":\"f\",\"input_schema\":{}},"
                + "{\"name\":\"f\",\"input_schema\":{}}]");
        assertEquals("tools[1].name", dup.param());
        assertEquals("duplicate tool name 'f'", dup.getMessage());
        ApiException bad = refused(HI + ",\"tools\":[{\"name\":\"a b\",\"input_schema\":{}}]");
        assertEquals("tools[0].name", bad.param());
        assertEquals("tools[0].name must be 1-64 letters, digits, '_' or '-'", bad.getMessage());
    }

    @Test
    void stopSequencesAndSamplingKeepTheirNames() throws Exception {
        ApiException tooLong = refused(HI + ",\"stop_sequences\":[\"" + "x".repeat(300) + "\"]");
        assertEquals("stop_sequences", tooLong.param());
        assertEquals("each stop sequence must be 1 to 256 bytes", tooLong.getMessage());
        assertEquals("temperature", refused(HI + ",\"temperature\":3").param());
        assertEquals("top_k", refused(HI + ",\"top_k\":-5").param());
    }

    @Test
    void aConversationLimitNamesMessages() throws Exception {
        String image = "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\","
                + "\"data\":\"AAAA\"}}";
        ApiException e = refused("\"messages\":[{\"role\":\"user\",\"content\":[" + image + "," + image + "]}]");
        assertEquals("messages", e.param());
        assertEquals("Too many images: 2 in this request, the limit is 1", e.getMessage());
    }
}
