package io.peregrine.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import io.peregrine.api.anthropic.AnthropicError;
import io.peregrine.api.anthropic.BlockDelta;
import io.peregrine.api.anthropic.ContentBlock;
import io.peregrine.api.anthropic.MessageResponse;
import io.peregrine.api.anthropic.MessageUsage;
import io.peregrine.api.anthropic.MessagesRequest;
import io.peregrine.api.anthropic.StreamEvent;
import io.peregrine.api.json.Json;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The Anthropic Messages shapes byte for byte, and strict request types. */
class AnthropicWireFormatTest {
    private final ObjectMapper json = Json.newMapper();

    @Test
    void messageWritesBothStopFieldsAndEveryUsageCount() throws Exception {
        MessageResponse m = new MessageResponse("msg_1", "demo", List.of(new ContentBlock.Thinking("hm", "sig"),
                new ContentBlock.Text("hi"), new ContentBlock.ToolUse("functions.f:0", "f", json.readTree("{\"a\":1}"))),
                "tool_use", null, new MessageUsage(10, 5, 0, 4));
        assertEquals("{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"demo\",\"content\":["
                + "{\"type\":\"thinking\",\"thinking\":\"hm\",\"signature\":\"sig\"},{\"type\":\"text\",\"text\":\"hi\"},"
                + "{\"type\":\"tool_use\",\"id\":\"functions.f:0\",\"name\":\"f\",\"input\":{\"a\":1}}],"
                + "\"stop_reason\":\"tool_use\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":10,\"output_tokens\":5,"
                + "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":4}}", json.writeValueAsString(m));
    }

    @Test
    void streamEventsAndErrors() throws Exception {
        assertEquals("{\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\","
                + "\"partial_json\":\"{}\"}}",
                json.writeValueAsString(new StreamEvent.ContentBlockDelta(2, new BlockDelta.InputJsonDelta("{}"))));
        assertEquals("{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},"
                + "\"usage\":{\"input_tokens\":1,\"output_tokens\":2,\"cache_creation_input_tokens\":0,"
                + "\"cache_read_input_tokens\":0}}", json.writeValueAsString(new StreamEvent.MessageDelta(
                        new StreamEvent.StopDelta("end_turn", null), new MessageUsage(1, 2, 0, 0))));
        assertEquals("{\"type\":\"ping\"}", json.writeValueAsString(new StreamEvent.Ping()));
        assertEquals("{\"type\":\"error\",\"error\":{\"type\":\"not_found_error\",\"message\":\"no\"}}",
                json.writeValueAsString(new AnthropicError("not_found_error", "no")));
    }

    @Test
    void requestFieldsAreSnakeCaseAndStrictlyTyped() throws Exception {
        MessagesRequest r = json.readValue("{\"model\":\"m\",\"max_tokens\":5,\"stop_sequences\":[\"x\"],"
                + "\"top_k\":3,\"tools\":[{\"name\":\"f\",\"input_schema\":{\"type\":\"object\"}}],"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", MessagesRequest.class);
        assertEquals(5, r.maxTokens());
        assertEquals(List.of("x"), r.stopSequences());
        assertEquals("object", r.tools().getFirst().inputSchema().path("type").asText());
        assertThrows(MismatchedInputException.class, () -> json.readValue("{\"max_tokens\":\"5\"}", MessagesRequest.class));
        assertThrows(MismatchedInputException.class, () -> json.readValue("{\"stream\":\"yes\"}", MessagesRequest.class));
    }
}
