package io.peregrine.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.engine.runtime.FinishReason;
import io.peregrine.server.fakes.FakeEngine.Script;
import io.peregrine.server.fakes.TestServer;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A generation the engine aborts (SIGTERM's drain timeout, a stalled reader) is never reported as a normal ending:
 * the Responses API says incomplete, the Messages API (which has no word for it) ends with an error.
 */
class AbortedReplyTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        server = new TestServer();
        server.engine.script(r -> Script.of(FinishReason.ABORT, "Hel", "lo"));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @Test
    void anAbortedResponseIsIncompleteWithItsReasonStreamedOrNot() throws Exception {
        HttpResponse<String> r = server.post("/v1/responses", "{\"model\":\"kimi-k2.5\",\"input\":\"hi\"}");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode body = JSON.readTree(r.body());
        assertEquals("incomplete", body.path("status").asText(), r.body());
        assertEquals("abort", body.path("incomplete_details").path("reason").asText(), r.body());
        assertEquals(404, server.get("/v1/responses/" + body.path("id").asText()).statusCode(), "an aborted one is not stored");

        HttpResponse<String> s = server.post("/v1/responses", "{\"model\":\"kimi-k2.5\",\"input\":\"hi\",\"stream\":true}");
        assertEquals(200, s.statusCode(), s.body());
        assertFalse(s.body().contains("response.completed"), s.body());
        assertTrue(s.body().contains("event: response.incomplete\n"), s.body());
        String last = s.body().substring(s.body().lastIndexOf("data: ") + 6).strip();
        JsonNode response = JSON.readTree(last).path("response");
        assertEquals("incomplete", response.path("status").asText(), last);
        assertEquals("abort", response.path("incomplete_details").path("reason").asText(), last);
    }

    @Test
    void anAbortedMessagesStreamEndsWithAnErrorEventNotAStopReasonAnthropicDoesNotHave() throws Exception {
        String req = "{\"model\":\"kimi-k2.5\",\"max_tokens\":16,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";
        HttpResponse<String> s;
        // Its own client: the connection closes after an error event, and a pooled client's next request could
        // race that close.
        try (java.net.http.HttpClient own = java.net.http.HttpClient.newHttpClient()) {
            s = own.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(server.baseUrl() + "/v1/messages"))
                    .POST(java.net.http.HttpRequest.BodyPublishers.ofString(req + ",\"stream\":true}"))
                    .header("Content-Type", "application/json").build(), HttpResponse.BodyHandlers.ofString());
        }
        assertEquals(200, s.statusCode(), s.body());
        assertFalse(s.body().contains("\"abort\""), s.body());
        assertFalse(s.body().contains("message_stop"), s.body());
        assertTrue(s.body().contains("event: message_start\n"), s.body());
        assertTrue(s.body().strip().startsWith("event: message_start"), s.body());
        String tail = s.body().substring(s.body().lastIndexOf("event: "));
        assertTrue(tail.startsWith("event: error\n"), tail);
        assertEquals("overloaded_error",
                JSON.readTree(tail.substring(tail.indexOf("data: ") + 6)).path("error").path("type").asText(), tail);

        HttpResponse<String> r = server.post("/v1/messages", req + "}");
        assertEquals(503, r.statusCode(), r.body());
        assertEquals("overloaded_error", JSON.readTree(r.body()).path("error").path("type").asText(), r.body());
    }

    @Test
    void chatStillSaysAbortInItsFinishReason() throws Exception {
        HttpResponse<String> r = server.post("/v1/chat/completions",
                "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals("abort", JSON.readTree(r.body()).path("choices").path(0).path("finish_reason").asText());
    }
}
