package io.peregrine.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

/** The pipeline's own 401 and 413 in the envelope the request's API family parses. */
class CannedErrorBodyTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void theUriChoosesTheEnvelope() throws Exception {
        CannedErrorBody tooLarge = CannedErrorBody.of(ApiException.tooLarge(1024));
        JsonNode anthropic = JSON.readTree(tooLarge.forUri("/v1/messages?beta=true"));
        assertEquals("error", anthropic.path("type").asText());
        assertEquals("request_too_large", anthropic.path("error").path("type").asText());
        assertEquals("request_too_large", JSON.readTree(tooLarge.forUri("/v1/messages/count_tokens"))
                .path("error").path("type").asText());
        for (String uri : new String[] {"/v1/chat/completions", "/v1/messagesx", "http://h:1/v1/responses",
                "/v1/%zz"}) {
            JsonNode openai = JSON.readTree(tooLarge.forUri(uri));
            assertEquals("invalid_request_error", openai.path("error").path("type").asText(), uri);
            assertSame(tooLarge.openai(), tooLarge.forUri(uri), uri);
        }
        JsonNode unauthorized = JSON.readTree(CannedErrorBody.of(ApiException.unauthorized())
                .forUri("http://localhost:8000/v1/messages"));
        assertEquals("authentication_error", unauthorized.path("error").path("type").asText());
    }
}
