package io.peregrine.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.server.fakes.TestServer;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every 400 from the JSON layer speaks the API's language: the field and what it should be, never a Jackson class,
 * feature or configuration method (found by fuzzing the server from outside).
 */
class JsonErrorWordingTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern INTERNALS = Pattern.compile(
            "`|jackson|Feature|Constraints|CoercionConfig|java\\.|Source:|REDACTED|io\\.peregrine", Pattern.CASE_INSENSITIVE);
    private static final List<String> ENDPOINTS = List.of("/v1/chat/completions", "/v1/completions", "/v1/responses",
            "/v1/responses/input_tokens", "/v1/messages", "/v1/messages/count_tokens", "/tokenize", "/detokenize",
            "/v1/tokenizers/estimate-token-count");
    private static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        server = new TestServer();
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    /** The error's message, after checking it is a 400 in the endpoint's shape with no Java internals. */
    private static String message400(String path, String body) throws Exception {
        HttpResponse<String> r = server.post(path, body);
        assertEquals(400, r.statusCode(), path + ": " + r.body());
        JsonNode err = JSON.readTree(r.body()).get("error");
        String message = err.path("message").asText();
        assertFalse(INTERNALS.matcher(message).find(), path + ": " + message);
        return message;
    }

    @Test
    void aResponsesRoleOfTheWrongTypeIsNamedLikeChatNamesIt() throws Exception {
        HttpResponse<String> r = server.post("/v1/responses",
                "{\"model\":\"kimi-k2.5\",\"input\":[{\"type\":\"message\",\"role\":5,\"content\":\"hi\"}]}");
        assertEquals(400, r.statusCode(), r.body());
        JsonNode err = JSON.readTree(r.body()).get("error");
        assertEquals("Invalid type for 'input[0].role': expected a string", err.path("message").asText());
        assertEquals("input[0].role", err.path("param").asText());
    }

    @Test
    void trailingDataAfterTheBodyIsNamedOnEveryEndpoint() throws Exception {
        for (String path : ENDPOINTS) {
            String m = message400(path, "{\"model\":\"x\"} \"x\"");
            assertEquals("The request body has more data after its JSON object", m, path);
            message400(path, "{\"model\":\"x\"} }");
        }
    }

    @Test
    void parserLimitsAreStatedInTheRequestsTerms() throws Exception {
        String deep = "[".repeat(1001) + "]".repeat(1001);
        String digits = "1".repeat(1001);
        for (String path : ENDPOINTS) {
            assertTrue(message400(path, "{\"model\":\"x\",\"a\":" + deep + "}").contains("nested more than 1000 levels"),
                    path);
            assertTrue(message400(path, "{\"model\":\"x\",\"a\":" + digits + "}").contains("more than 1000 digits"), path);
        }
    }

    @Test
    void malformedBodiesNameNoParserInternals() throws Exception {
        for (String body : List.of("{", "{\"a\":", "{\"a\":[1,2", "{\"a\" 1}", "{'a':1}", "{\"a\":tru}", "{\"a\":\"\\x\"}",
                "{\"a\":1,\"a\":2}", "[1]", "nul", "{\"a\":01}", "{\"a\":NaN}", "\u0000")) {
            message400("/v1/chat/completions", body);
            message400("/v1/messages", body);
        }
    }

    @Test
    void theParsersStringLimitIsTheBodyLimitNotJacksonsTwentyMillion() throws Exception {
        // 20,000,001 characters: Jackson's default cap, far under the 32 MiB body limit.
        String pad = "x".repeat(20_000_001);
        HttpResponse<String> r = server.post("/v1/completions", "{\"prompt\":\"hi\",\"max_tokens\":1,\"pad\":\"" + pad + "\"}");
        assertEquals(200, r.statusCode(), r.body().substring(0, Math.min(300, r.body().length())));
        assertEquals(1 << 20, JsonBodies.requestMapper(1 << 20).getFactory().streamReadConstraints().getMaxStringLength());
    }
}
