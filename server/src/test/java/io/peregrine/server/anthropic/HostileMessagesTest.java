package io.peregrine.server.anthropic;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.api.anthropic.MessagesRequest;
import io.peregrine.api.json.Json;
import io.peregrine.server.chat.PlanBuilder;
import io.peregrine.server.http.ApiException;
import io.peregrine.server.app.ServerConfig;
import io.peregrine.server.sampling.SamplingPolicy;
import io.peregrine.server.sampling.SamplingResolver;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Messages API requests found by attacking the server from outside; each was accepted wrongly before its fix. */
class HostileMessagesTest {
    private static final ObjectMapper JSON = Json.newMapper();
    private static final SamplingResolver SAMPLING = new SamplingResolver(SamplingPolicy.FREE);
    private static final MessagesRequestMapper MAPPER = new MessagesRequestMapper(
            new PlanBuilder(SAMPLING, ServerConfig.defaults().mediaLimits()));

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

    /** Too many stop sequences, or one too long, was a 400 naming chat's stop, which this API does not have. */
    @Test
    void stopSequenceLimitsNameStopSequences() throws Exception {
        StringBuilder many = new StringBuilder("[");
        for (int i = 0; i < 64; i++) {
            many.append(i > 0 ? "," : "").append("\"s").append(i).append('"');
        }
        for (String stops : new String[] {many + "]", "[\"" + "x".repeat(300) + "\"]"}) {
            JsonNode tree = JSON.readTree("{\"model\":\"m\",\"max_tokens\":8,\"messages\":[{\"role\":\"user\","
                    + "\"content\":\"hi\"}],\"stop_sequences\":" + stops + "}");
            ApiException e = assertThrows(ApiException.class, () -> MAPPER.map(
                    JSON.treeToValue(tree, MessagesRequest.class), tree, List.of("m"), false));
            assertEquals("stop_sequences", e.param());
        }
    }

    private static MessagesPlan conversation(String messages) throws Exception {
        JsonNode tree = JSON.readTree("{\"model\":\"m\",\"max_tokens\":8,\"messages\":" + messages
                + ",\"tools\":[{\"name\":\"f\",\"input_schema\":{\"type\":\"object\"}}]}");
        return MAPPER.map(JSON.treeToValue(tree, MessagesRequest.class), tree, List.of("m"), false);
    }

    private static final String ASK = "{\"role\":\"user\",\"content\":\"hi\"}";

    private static String calls(String... ids) {
        StringBuilder sb = new StringBuilder("{\"role\":\"assistant\",\"content\":[");
        for (int i = 0; i < ids.length; i++) {
            sb.append(i > 0 ? "," : "").append("{\"type\":\"tool_use\",\"id\":\"").append(ids[i])
                    .append("\",\"name\":\"f\",\"input\":{}}");
        }
        return sb.append("]}").toString();
    }

    private static String results(String... ids) {
        StringBuilder sb = new StringBuilder("{\"role\":\"user\",\"content\":[");
        for (int i = 0; i < ids.length; i++) {
            sb.append(i > 0 ? "," : "").append("{\"type\":\"tool_result\",\"tool_use_id\":\"").append(ids[i])
                    .append("\",\"content\":\"r\"}");
        }
        return sb.append("]}").toString();
    }

    /** Two tool_use blocks with one id, or two results for one call, were accepted: which call was answered? */
    @Test
    void toolUseIdsAreUniqueAndEachIsAnsweredOnce() throws Exception {
        conversation("[" + ASK + "," + calls("toolu_a", "toolu_b") + "," + results("toolu_a", "toolu_b") + "]");
        ApiException dupCall = assertThrows(ApiException.class, () -> conversation(
                "[" + ASK + "," + calls("toolu_a", "toolu_a") + "," + results("toolu_a") + "]"));
        assertEquals("messages[1].content[1].id", dupCall.param());
        ApiException acrossTurns = assertThrows(ApiException.class, () -> conversation("[" + ASK + ","
                + calls("toolu_a") + "," + results("toolu_a") + "," + calls("toolu_a") + "," + results("toolu_a") + "]"));
        assertEquals("messages[3].content[0].id", acrossTurns.param());
        ApiException twice = assertThrows(ApiException.class, () -> conversation(
                "[" + ASK + "," + calls("toolu_a") + "," + results("toolu_a", "toolu_a") + "]"));
        assertEquals("messages[2].content[1].tool_use_id", twice.param());
    }
}
