package io.peregrine.server.anthropic;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.anthropic.client.AnthropicClient;
import com.anthropic.client.okhttp.AnthropicOkHttpClient;
import com.anthropic.errors.BadRequestException;
import com.anthropic.errors.NotFoundException;
import com.anthropic.errors.RateLimitException;
import com.anthropic.errors.UnauthorizedException;
import com.anthropic.models.ErrorType;
import com.anthropic.models.messages.MessageCreateParams;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.engine.runtime.RejectedException;
import io.peregrine.server.auth.ApiKeys;
import io.peregrine.server.fakes.TestServer;
import io.peregrine.server.app.ServerConfig;
import java.net.http.HttpResponse;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Anthropic error bodies with the OpenAI endpoints' statuses, parsed by the Anthropic SDK into its typed
 * exceptions; auth by {@code x-api-key} (what the SDK sends) and by {@code Authorization: Bearer}. Validation
 * runs before the engine, so a fake engine serves.
 */
class MessagesErrorsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String KEY = "sk-anthropic";
    private static TestServer server;
    private static AnthropicClient client;

    @BeforeAll
    static void start() throws Exception {
        server = new TestServer(ServerConfig.defaults().withApiKeys(new ApiKeys(List.of(KEY))), 4096, true);
        client = AnthropicOkHttpClient.builder().baseUrl(server.baseUrl()).apiKey(KEY).maxRetries(0).build();
    }

    @AfterAll
    static void stop() {
        client.close();
        server.close();
    }

    private static MessageCreateParams.Builder ask() {
        return MessageCreateParams.builder().model(TestServer.MODEL).maxTokens(8).addUserMessage("hi");
    }

    /** Posts with the key; returns the parsed Anthropic error after checking its envelope and status. */
    private static JsonNode error(int status, String path, String body) throws Exception {
        HttpResponse<String> r = server.post(path, body, "x-api-key", KEY, "anthropic-version", "2023-06-01",
                "anthropic-beta", "interleaved-thinking-2025-05-14");
        assertEquals(status, r.statusCode(), r.body());
        JsonNode e = JSON.readTree(r.body());
        assertEquals("error", e.path("type").asText(), r.body());
        assertTrue(e.path("error").path("message").isTextual(), r.body());
        return e.path("error");
    }

    private static String request(String extra) {
        return "{\"model\":\"" + TestServer.MODEL + "\",\"max_tokens\":8,\"messages\":[{\"role\":\"user\","
                + "\"content\":\"hi\"}]" + extra + "}";
    }

    @Test
    void aWrongKeyIsAnAuthenticationError() throws Exception {
        AnthropicClient wrong = AnthropicOkHttpClient.builder().baseUrl(server.baseUrl()).apiKey("sk-wrong")
                .maxRetries(0).build();
        try {
            UnauthorizedException e = assertThrows(UnauthorizedException.class,
                    () -> wrong.messages().create(ask().build()));
            assertEquals(ErrorType.AUTHENTICATION_ERROR, e.errorType().orElseThrow());
        } finally {
            wrong.close();
        }
        HttpResponse<String> none = server.post("/v1/messages/count_tokens", request(""));
        assertEquals(401, none.statusCode());
        assertEquals("authentication_error", JSON.readTree(none.body()).path("error").path("type").asText());
        HttpResponse<String> bearer = server.post("/v1/messages/count_tokens?beta=true", request(""),
                "Authorization", "Bearer " + KEY);
        assertEquals(200, bearer.statusCode(), bearer.body());
        assertTrue(JSON.readTree(bearer.body()).path("input_tokens").asInt() > 0, bearer.body());
    }

    @Test
    void anUnknownModelIsNotFound() {
        NotFoundException e = assertThrows(NotFoundException.class,
                () -> client.messages().create(ask().model("claude-opus-4-1").build()));
        assertEquals(ErrorType.NOT_FOUND_ERROR, e.errorType().orElseThrow());
        assertTrue(e.getMessage().contains("claude-opus-4-1"), e.getMessage());
    }

    @Test
    void aConversationThatStartsWithTheAssistantIsInvalid() {
        BadRequestException e = assertThrows(BadRequestException.class, () -> client.messages().create(
                MessageCreateParams.builder().model(TestServer.MODEL).maxTokens(8).addAssistantMessage("Hello")
                        .addUserMessage("hi").build()));
        assertEquals(ErrorType.INVALID_REQUEST_ERROR, e.errorType().orElseThrow());
        assertTrue(e.getMessage().contains("messages[0].role"), e.getMessage());
    }

    @Test
    void aFullQueueIsARateLimitError() {
        server.engine.rejectWith(new RejectedException(RejectedException.Kind.QUEUE_FULL, "too many"));
        try {
            RateLimitException e = assertThrows(RateLimitException.class, () -> client.messages().create(ask().build()));
            assertEquals(ErrorType.RATE_LIMIT_ERROR, e.errorType().orElseThrow());
        } finally {
            server.engine.rejectWith(null);
        }
    }

    @Test
    void badRequestsNameWhatIsWrong() throws Exception {
        String noMax = "{\"model\":\"" + TestServer.MODEL + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
        assertTrue(error(400, "/v1/messages", noMax).path("message").asText().contains("max_tokens"));
        assertEquals("invalid_request_error", error(400, "/v1/messages", noMax).path("type").asText());
        assertTrue(error(400, "/v1/messages", request(",\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":8}"))
                .path("message").asText().contains("less than max_tokens"));
        assertTrue(error(400, "/v1/messages", request(",\"tools\":[{\"type\":\"web_search_20250305\","
                + "\"name\":\"web_search\"}]")).path("message").asText().contains("server tools"));
        assertTrue(error(400, "/v1/messages", request(",\"mcp_servers\":[{\"type\":\"url\",\"url\":\"http://x\"}]"))
                .path("message").asText().contains("mcp_servers"));
        assertTrue(error(400, "/v1/messages", request(",\"tool_choice\":{\"type\":\"any\"}"))
                .path("message").asText().contains("requires 'tools'"));
        String orphan = "{\"model\":\"" + TestServer.MODEL + "\",\"max_tokens\":8,\"messages\":[{\"role\":\"user\","
                + "\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\",\"content\":\"x\"}]}]}";
        assertTrue(error(400, "/v1/messages", orphan).path("message").asText().contains("toolu_1"));
        String systemRole = "{\"model\":\"" + TestServer.MODEL + "\",\"max_tokens\":8,\"messages\":[{\"role\":"
                + "\"system\",\"content\":\"x\"},{\"role\":\"user\",\"content\":\"hi\"}]}";
        assertTrue(error(400, "/v1/messages", systemRole).path("message").asText().contains("'system' field"));
        assertEquals("invalid_request_error", error(400, "/v1/messages", "{not json").path("type").asText());
        assertEquals("invalid_request_error", error(400, "/v1/messages", request(",\"max_tokens\":\"8\""))
                .path("type").asText());
    }

    @Test
    void everyMistypedFieldIsA400NeverA500() throws Exception {
        String m = "\"model\":\"" + TestServer.MODEL + "\",\"max_tokens\":8";
        String user = "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";
        String[] bodies = {
            "[]", "{" + m + "}", "{" + m + ",\"messages\":\"hi\"}", "{" + m + ",\"messages\":[null]}",
            "{" + m + ",\"messages\":[{\"role\":\"user\"}]}", "{" + m + ",\"messages\":[{\"role\":\"user\",\"content\":5}]}",
            "{" + m + ",\"messages\":[{\"role\":\"user\",\"content\":[5]}]}",
            "{" + m + ",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}]}",
            "{" + m + ",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"source\":5}]}]}",
            "{" + m + ",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"document\",\"source\":"
                    + "{\"type\":\"base64\",\"media_type\":\"text/html\",\"data\":\"x\"}}]}]}",
            "{" + m + ",\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\",\"content\":"
                    + "[{\"type\":\"tool_use\",\"id\":\"x\",\"name\":\"f\",\"input\":[1]}]},{\"role\":\"user\",\"content\":\"b\"}]}",
            "{" + m + ",\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\",\"content\":"
                    + "[{\"type\":\"thinking\",\"thinking\":5}]},{\"role\":\"user\",\"content\":\"b\"}]}",
            // a final assistant turn is a prefill (PartialModeSdkTest); one holding a tool_use is not
            "{" + m + ",\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\",\"content\":"
                    + "[{\"type\":\"tool_use\",\"id\":\"x\",\"name\":\"f\",\"input\":{}}]}]}",
            "{" + m + "," + user + ",\"system\":5}", "{" + m + "," + user + ",\"system\":[{\"type\":\"image\"}]}",
            "{" + m + "," + user + ",\"tools\":[5]}", "{" + m + "," + user + ",\"tools\":[{\"name\":\"f\"}]}",
            "{" + m + "," + user + ",\"tools\":[{\"name\":\"a b\",\"input_schema\":{}}]}",
            "{" + m + "," + user + ",\"tool_choice\":\"auto\"}", "{" + m + "," + user + ",\"tool_choice\":{\"type\":\"tool\"}}",
            "{" + m + "," + user + ",\"tool_choice\":{\"type\":\"auto\",\"disable_parallel_tool_use\":\"yes\"}}",
            "{" + m + "," + user + ",\"thinking\":true}", "{" + m + "," + user + ",\"thinking\":{\"type\":\"on\"}}",
            "{" + m + "," + user + ",\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":1.5}}",
            "{" + m + "," + user + ",\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":0}}",
            "{" + m + "," + user + ",\"stop_sequences\":[\"\"]}", "{" + m + "," + user + ",\"stop_sequences\":\"x\"}",
            "{" + m + "," + user + ",\"temperature\":\"hot\"}", "{" + m + "," + user + ",\"temperature\":-1}",
            "{" + m + "," + user + ",\"top_p\":7}", "{" + m + "," + user + ",\"metadata\":5}",
            "{\"model\":\"" + TestServer.MODEL + "\",\"max_tokens\":0," + user + "}",
            "{\"model\":\"" + TestServer.MODEL + "\",\"max_tokens\":99999999," + user + "}",
        };
        for (String body : bodies) {
            JsonNode e = error(400, "/v1/messages", body);
            assertEquals("invalid_request_error", e.path("type").asText(), body);
        }
    }

    @Test
    void unknownPathsAndMethodsUnderMessagesAnswerInAnthropicsShape() throws Exception {
        assertEquals("not_found_error", error(404, "/v1/messages/batches", "{}").path("type").asText());
        HttpResponse<String> get = server.get("/v1/messages", "x-api-key", KEY);
        assertEquals(405, get.statusCode());
        assertEquals("invalid_request_error", JSON.readTree(get.body()).path("error").path("type").asText());
    }

    @Test
    void countTokensNeedsNoMaxTokensAndAcceptsBeta() throws Exception {
        String body = "{\"model\":\"" + TestServer.MODEL + "\",\"system\":[{\"type\":\"text\",\"text\":\"Be brief.\","
                + "\"cache_control\":{\"type\":\"ephemeral\"}}],\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
        HttpResponse<String> r = server.post("/v1/messages/count_tokens?beta=true", body, "x-api-key", KEY);
        assertEquals(200, r.statusCode(), r.body());
        JsonNode n = JSON.readTree(r.body());
        assertEquals(1, n.size(), "only input_tokens: " + r.body());
        assertTrue(n.path("input_tokens").asInt() > 0);
    }
}
