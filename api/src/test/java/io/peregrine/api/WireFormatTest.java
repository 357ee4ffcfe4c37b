package io.peregrine.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import io.peregrine.api.chat.ChatCompletionChunk;
import io.peregrine.api.chat.ChatCompletionRequest;
import io.peregrine.api.chat.ChunkChoice;
import io.peregrine.api.chat.Delta;
import io.peregrine.api.common.Usage;
import io.peregrine.api.error.ErrorBody;
import io.peregrine.api.error.ErrorResponse;
import io.peregrine.api.json.Json;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The JSON shapes clients parse, byte for byte, and the strictness of request parsing. */
class WireFormatTest {
    private final ObjectMapper json = Json.newMapper();

    @Test
    void errorEnvelopeAlwaysHasAllFourKeys() throws Exception {
        assertEquals("{\"error\":{\"message\":\"bad\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}",
                json.writeValueAsString(new ErrorResponse(new ErrorBody("bad", "invalid_request_error", null, null))));
    }

    @Test
    void chunkShapeMatchesOpenAi() throws Exception {
        var chunk = new ChatCompletionChunk("c1", 7, "m",
                List.of(new ChunkChoice(0, new Delta(null, "hi", null, null, null), null, null)), null);
        assertEquals("{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":7,\"model\":\"m\",\"choices\":"
                + "[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"logprobs\":null,\"finish_reason\":null}]}",
                json.writeValueAsString(chunk));
        var usage = new ChatCompletionChunk("c1", 7, "m", List.of(), Usage.of(10, 4, 3, 2));
        assertEquals("{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":7,\"model\":\"m\",\"choices\":[],"
                + "\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":3,\"total_tokens\":13,"
                + "\"prompt_tokens_details\":{\"cached_tokens\":4},\"completion_tokens_details\":{\"reasoning_tokens\":2}}}",
                json.writeValueAsString(usage));
    }

    @Test
    void requestFieldsAreSnakeCaseAndStrictlyTyped() throws Exception {
        ChatCompletionRequest r = json.readValue("{\"model\":\"m\",\"max_completion_tokens\":5,\"top_p\":0.5,"
                + "\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"assistant\",\"content\":null,"
                + "\"reasoning_content\":\"r\",\"tool_calls\":[{\"id\":\"functions.f:0\",\"type\":\"function\","
                + "\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]}]}", ChatCompletionRequest.class);
        assertEquals(5, r.maxCompletionTokens());
        assertEquals(0.5, r.topP());
        assertEquals(true, r.streamOptions().includeUsage());
        assertEquals("r", r.messages().getFirst().reasoningContent());
        assertEquals("functions.f:0", r.messages().getFirst().toolCalls().getFirst().id());
        assertThrows(MismatchedInputException.class,
                () -> json.readValue("{\"n\":\"2\"}", ChatCompletionRequest.class));
        assertThrows(MismatchedInputException.class,
                () -> json.readValue("{\"n\":2.5}", ChatCompletionRequest.class));
        assertThrows(MismatchedInputException.class,
                () -> json.readValue("{\"model\":5}", ChatCompletionRequest.class));
        assertThrows(MismatchedInputException.class,
                () -> json.readValue("{\"stream\":1}", ChatCompletionRequest.class));
    }
}
