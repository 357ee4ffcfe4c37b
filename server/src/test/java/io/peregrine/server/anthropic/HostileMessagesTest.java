package io.peregrine.server.anthropic;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.api.anthropic.MessagesRequest;
import io.peregrine.api.json.Json;
import io.peregrine.server.chat.ChatRequestMapper;
import io.peregrine.server.http.ApiException;
import io.peregrine.server.http.ServerConfig;
import io.peregrine.server.sampling.SamplingPolicy;
import io.peregrine.server.sampling.SamplingResolver;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Messages API requests found by attacking the server from outside; each was accepted wrongly before its fix. */
class HostileMessagesTest {
    private static final ObjectMapper JSON = Json.newMapper();
    private static final SamplingResolver SAMPLING = new SamplingResolver(SamplingPolicy.FREE);
    private static final MessagesRequestMapper MAPPER = new MessagesRequestMapper(SAMPLING,
            new ChatRequestMapper(SAMPLING, ServerConfig.defaults().mediaLimits()));

    private static MessagesPlan map(String tools) throws Exception {
        JsonNode tree = JSON.readTree("{\"model\":\"m\",\"max_tokens\":8,\"messages\":[{\"role\":\"user\","
                + "\"content\":\"hi\"}],\"tools\":" + tools + "}");
        return MAPPER.map(JSON.treeToValue(tree, MessagesRequest.class), tree, List.of("m"), false);
    }

    /** {@code "strict": true} on a tool was silently dropped: the input was never constrained to its schema. */
    @Test
    void aStrictToolConstrainsItsInputAndAnUnusableSchemaIsRefused() throws Exception {
        MessagesPlan strict = map("[{\"name\":\"f\",\"strict\":true,\"input_schema\":{\"type\":\"object\","
                + "\"properties\":{\"a\":{\"type\":\"integer\"}},\"required\":[\"a\"]}},"
                + "{\"name\":\"g\",\"input_schema\":{\"type\":\"object\"}}]");
        assertEquals(List.of("f"), List.copyOf(strict.chat().output().grammars().arguments().keySet()));
        ApiException notObject = assertThrows(ApiException.class, () -> map(
                "[{\"name\":\"f\",\"strict\":true,\"input_schema\":{\"type\":\"string\"}}]"));
        assertEquals("tools[0].input_schema", notObject.param());
        ApiException unenforced = assertThrows(ApiException.class, () -> map(
                "[{\"name\":\"g\",\"input_schema\":{}},{\"name\":\"f\",\"strict\":true,\"input_schema\":"
                        + "{\"type\":\"object\",\"properties\":{\"d\":{\"type\":\"string\",\"format\":\"date\"}}}}]"));
        assertEquals("tools[1].input_schema", unenforced.param());
        assertTrue(unenforced.getMessage().contains("format"), unenforced.getMessage());
    }
}
