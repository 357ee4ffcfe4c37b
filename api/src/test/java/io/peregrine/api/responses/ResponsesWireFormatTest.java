package io.peregrine.api.responses;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import io.peregrine.api.json.Json;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The Responses API's JSON shapes, byte for byte, and the strictness of its request parsing. */
class ResponsesWireFormatTest {
    private final ObjectMapper json = Json.newMapper();

    @Test
    void outputItemsAndUsageUseTheResponsesNames() throws Exception {
        assertEquals("{\"id\":\"rs_1\",\"type\":\"reasoning\",\"summary\":[],\"content\":[{\"type\":\"reasoning_text\","
                + "\"text\":\"hm\"}],\"status\":\"completed\"}", json.writeValueAsString(
                new OutputItem.Reasoning("rs_1", List.of(new OutputItem.ReasoningText("hm")), "completed")));
        assertEquals("{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"status\":\"completed\","
                + "\"content\":[{\"type\":\"output_text\",\"text\":\"Hi\",\"annotations\":[],\"logprobs\":[]}]}",
                json.writeValueAsString(new OutputItem.Message("msg_1", "completed",
                        List.of(new OutputItem.OutputText("Hi")))));
        assertEquals("{\"id\":\"fc_1\",\"type\":\"function_call\",\"call_id\":\"functions.f:0\",\"name\":\"f\","
                + "\"arguments\":\"{}\",\"status\":\"completed\"}", json.writeValueAsString(
                new OutputItem.FunctionCall("fc_1", "functions.f:0", "f", "{}", "completed")));
        assertEquals("{\"input_tokens\":10,\"input_tokens_details\":{\"cached_tokens\":4},\"output_tokens\":3,"
                + "\"output_tokens_details\":{\"reasoning_tokens\":2},\"total_tokens\":13}",
                json.writeValueAsString(ResponseUsage.of(10, 4, 3, 2)));
    }

    @Test
    void theResponseSendsOpenAisNullsAndTheEventsTheirType() throws Exception {
        Response r = new Response("resp_1", "response", 7, "completed", null, null, null, null, "m", List.of(), true,
                null, null, false, null, null, null, List.of(), null, "disabled", ResponseUsage.of(1, 0, 1, 0), null,
                null);
        String s = json.writeValueAsString(r);
        for (String key : List.of("error", "incomplete_details", "instructions", "max_output_tokens",
                "previous_response_id", "reasoning", "temperature", "top_p", "user")) {
            assertEquals(true, s.contains("\"" + key + "\":null"), key + " in " + s);
        }
        assertEquals("{\"type\":\"response.output_text.delta\",\"sequence_number\":3,\"item_id\":\"msg_1\","
                + "\"output_index\":0,\"content_index\":0,\"delta\":\"Hi\",\"logprobs\":[]}",
                json.writeValueAsString(new ResponseStreamEvent.TextDelta("response.output_text.delta", 3, "msg_1", 0,
                        0, "Hi", List.of())));
    }

    @Test
    void requestTypesAreStrict() {
        assertThrows(MismatchedInputException.class, () -> json.readValue(
                "{\"max_output_tokens\":\"12\"}", ResponseCreateRequest.class));
        assertThrows(MismatchedInputException.class, () -> json.readValue(
                "{\"store\":\"yes\"}", ResponseCreateRequest.class));
        assertThrows(MismatchedInputException.class, () -> json.readValue(
                "{\"call_id\":5}", ResponseInputItem.class));
    }
}
