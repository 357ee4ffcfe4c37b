package io.peregrine.server.http;

import io.peregrine.server.app.ServerConfig;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.engine.runtime.RejectedException;
import io.peregrine.server.fakes.TestServer;
import io.peregrine.server.sampling.SamplingPolicy;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Every bad request gets the OpenAI envelope with the right status, never a 500. */
class ErrorResponsesTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        server = new TestServer(ServerConfig.defaults().withMaxBodyBytes(64 << 10), 256, true);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static String chat(String extra) {
        return "{\"model\":\"kimi-k2.5\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]" + extra + "}";
    }

    /** Asserts status and envelope; returns the inner error object. */
    private static JsonNode expectError(HttpResponse<String> r, int status, String param) throws Exception {
        assertEquals(status, r.statusCode(), r.body());
        JsonNode body = JSON.readTree(r.body());
        JsonNode err = body.get("error");
        assertTrue(err != null && err.isObject(), r.body());
        assertTrue(err.has("message") && err.has("type") && err.has("param") && err.has("code"), r.body());
        assertTrue(err.get("message").asText().length() > 5, r.body());
        if (param != null) {
            assertEquals(param, err.get("param").asText(), r.body());
        }
        assertEquals("application/json", r.headers().firstValue("content-type").orElse(""));
        return err;
    }

    @Test
    void malformedJsonIs400() throws Exception {
        JsonNode e = expectError(server.post("/v1/chat/completions", "{\"model\": "), 400, null);
        assertTrue(e.get("message").asText().contains("not valid JSON"));
        expectError(server.post("/v1/chat/completions", ""), 400, null);
        expectError(server.post("/v1/chat/completions", "[1,2]"), 400, null);
        expectError(server.post("/v1/chat/completions", chat("") + " trailing"), 400, null);
        expectError(server.post("/v1/chat/completions", "{\"n\":1,\"n\":2}"), 400, null);
        expectError(server.post("/v1/chat/completions", chat(",\"max_tokens\":99999999999")), 400, null);
    }

    @Test
    void wrongTypesName400WithTheField() throws Exception {
        expectError(server.post("/v1/chat/completions", chat(",\"temperature\":\"hot\"")), 400, "temperature");
        expectError(server.post("/v1/chat/completions", chat(",\"n\":1.5")), 400, "n");
        expectError(server.post("/v1/chat/completions", chat(",\"stream\":\"yes\"")), 400, "stream");
        expectError(server.post("/v1/chat/completions",
                "{\"model\":\"kimi-k2.5\",\"messages\":[{\"role\":5,\"content\":\"hi\"}]}"), 400, "messages[0].role");
        expectError(server.post("/v1/chat/completions", chat(",\"max_tokens\":-3")), 400, "max_tokens");
        expectError(server.post("/v1/chat/completions", chat(",\"temperature\":7")), 400, "temperature");
        expectError(server.post("/v1/chat/completions", chat(",\"stop\":[1]")), 400, "stop[0]");
        expectError(server.post("/v1/chat/completions", "{\"model\":\"kimi-k2.5\",\"messages\":[]}"), 400, "messages");
        expectError(server.post("/v1/chat/completions",
                "{\"messages\":[{\"role\":\"wizard\",\"content\":\"hi\"}]}"), 400, "messages[0].role");
    }

    @Test
    void stopTokenIdsOutsideTheVocabularyName400WithTheField() throws Exception {
        // The fake codec has 256 ids: 255 is the last one, 256 would never be sampled.
        assertEquals(200, server.post("/v1/chat/completions", chat(",\"stop_token_ids\":[0,255]")).statusCode());
        JsonNode e = expectError(server.post("/v1/chat/completions", chat(",\"stop_token_ids\":[3,256]")), 400,
                "stop_token_ids[1]");
        assertTrue(e.get("message").asText().contains("256"), e.toString());
        expectError(server.post("/v1/completions",
                "{\"model\":\"kimi-k2.5\",\"prompt\":\"hi\",\"stop_token_ids\":[99999]}"), 400, "stop_token_ids[0]");
        expectError(server.post("/v1/chat/completions", chat(",\"stop_token_ids\":[-1]")), 400, "stop_token_ids[0]");
    }

    @Test
    void unknownModelIs404() throws Exception {
        JsonNode e = expectError(server.post("/v1/chat/completions",
                "{\"model\":\"gpt-9\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"), 404, "model");
        assertEquals("model_not_found", e.get("code").asText());
        expectError(server.post("/v1/completions", "{\"model\":\"gpt-9\",\"prompt\":\"hi\"}"), 404, "model");
    }

    @Test
    void promptPlusMaxTokensOverContextIs400() throws Exception {
        // The fake template renders "user: hi\n" = 9 tokens; the context is 256.
        JsonNode e = expectError(server.post("/v1/chat/completions", chat(",\"max_tokens\":250")), 400, "max_tokens");
        assertTrue(e.get("message").asText().contains("maximum context length is 256"), e.toString());
        expectError(server.post("/v1/chat/completions", chat(",\"max_completion_tokens\":248")), 400,
                "max_completion_tokens");
        String longText = "a".repeat(300);
        expectError(server.post("/v1/chat/completions",
                "{\"messages\":[{\"role\":\"user\",\"content\":\"" + longText + "\"}]}"), 400, "messages");
    }

    @Test
    void bodyOverTheLimitIs413() throws Exception {
        String big = "x".repeat(70 << 10);
        JsonNode e = expectError(server.post("/v1/chat/completions", chat(",\"user\":\"" + big + "\"")), 413, null);
        assertEquals("request_too_large", e.get("code").asText());
    }

    @Test
    void a413ReachesAClientThatSendsItsWholeBodyBeforeReading() throws Exception {
        // As HTTP clients do (the JDK's, curl): the whole body goes out, then the answer is read. A server that
        // closes with the body unread resets the connection, and the 413 is lost with it.
        byte[] body = new byte[32 << 20];
        java.util.Arrays.fill(body, (byte) 'x');
        try (java.net.Socket s = new java.net.Socket("127.0.0.1", server.server.port())) {
            s.setSoTimeout(5000);
            var out = s.getOutputStream();
            out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            for (int i = 0; i < body.length; i += 64 << 10) {
                out.write(body, i, 64 << 10);
            }
            out.flush();
            String raw = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(raw.startsWith("HTTP/1.1 413 "), raw);
            assertTrue(raw.contains("request_too_large"), raw);
        }
    }

    @Test
    void mediaIsRejectedClearly() throws Exception {
        String image = "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,AA==\"}}";
        JsonNode e = expectError(server.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":["
                + "{\"type\":\"text\",\"text\":\"what is this\"}," + image + "]}]}"), 400, "messages[0].content[1]");
        assertTrue(e.get("message").asText().contains("not supported"), e.toString());
        String video = "{\"type\":\"video_url\",\"video_url\":{\"url\":\"https://x/v.mp4\"}}";
        e = expectError(server.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":["
                + video + "," + video + "]}]}"), 400, "messages");
        assertTrue(e.get("message").asText().contains("Too many videos: 2"), e.toString());
        StringBuilder many = new StringBuilder();
        for (int i = 0; i < 17; i++) {
            many.append(i == 0 ? "" : ",").append(image);
        }
        e = expectError(server.post("/v1/chat/completions",
                "{\"messages\":[{\"role\":\"user\",\"content\":[" + many + "]}]}"), 400, "messages");
        assertTrue(e.get("message").asText().contains("Too many images: 17"), e.toString());
    }

    @Test
    void unsupportedFieldsAreRejectedNotIgnored() throws Exception {
        JsonNode e = expectError(server.post("/v1/chat/completions", chat(",\"guided_json\":{\"type\":\"object\"}")),
                400, "guided_json");
        assertEquals("unsupported_parameter", e.get("code").asText());
        assertTrue(e.get("message").asText().contains("response_format"), "points to what does work");
        expectError(server.post("/v1/chat/completions", chat(",\"logit_bias\":{\"5\":10}")), 400, "logit_bias");
        JsonNode budget = expectError(server.post("/v1/chat/completions",
                chat(",\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":9}")), 400, "thinking.budget_tokens");
        assertTrue(budget.get("message").asText().contains("thinking_token_budget"), "points to the field that works");
        expectError(server.post("/v1/chat/completions", chat(",\"stream_options\":{\"include_usage\":true}")), 400,
                "stream_options");
        expectError(server.post("/v1/completions", "{\"prompt\":\"hi\",\"echo\":true}"), 400, "echo");
        expectError(server.post("/v1/completions", "{\"prompt\":[\"a\",\"b\"]}"), 400, "prompt");
        // Harmless fields that mean "no change" are accepted.
        assertEquals(200, server.post("/v1/chat/completions", chat(",\"response_format\":{\"type\":\"text\"}"
                + ",\"logit_bias\":{}")).statusCode());
    }

    @Test
    void badResponseFormatsAndStrictToolSchemasAre400sNamingTheProblem() throws Exception {
        String rf = ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\",\"schema\":";
        JsonNode e = expectError(server.post("/v1/chat/completions", chat(rf + "{\"type\":\"object\",\"properties\":"
                + "{\"when\":{\"type\":\"string\",\"format\":\"date-time\"}}}}}")), 400,
                "response_format.json_schema.schema");
        assertTrue(e.get("message").asText().contains("'format'")
                && e.get("message").asText().contains("#/properties/when/format"), e.toString());
        e = expectError(server.post("/v1/chat/completions", chat(rf + "{\"$ref\":\"#/$defs/nope\"}}}")), 400,
                "response_format.json_schema.schema");
        assertTrue(e.get("message").asText().contains("points to nothing"), e.toString());
        e = expectError(server.post("/v1/chat/completions", chat(rf + "[1]}}")), 400, "response_format.json_schema.schema");
        assertTrue(e.get("message").asText().contains("must be an object"), e.toString());
        String deep = "{\"type\":\"array\",\"items\":".repeat(40) + "true" + "}".repeat(40);
        e = expectError(server.post("/v1/chat/completions", chat(rf + deep + "}}")), 400, "response_format.json_schema.schema");
        assertTrue(e.get("message").asText().contains("deeper"), e.toString());
        expectError(server.post("/v1/chat/completions", chat(",\"response_format\":{\"type\":\"yaml\"}")), 400,
                "response_format.type");
        expectError(server.post("/v1/chat/completions", chat(",\"response_format\":{\"type\":\"json_schema\"}")), 400,
                "response_format.json_schema");
        // not strict: the unenforced keyword is dropped (best effort), the request goes through
        assertEquals(200, server.post("/v1/chat/completions", chat(rf + "{\"type\":\"string\",\"pattern\":\"a+\"},"
                + "\"strict\":false}}")).statusCode());
        // a strict tool's parameters are checked the same way; a non-strict tool's are not compiled at all
        String tool = ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"strict\":%s,"
                + "\"parameters\":{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\",\"minimum\":1}}}}}]";
        e = expectError(server.post("/v1/chat/completions", chat(tool.formatted("true"))), 400,
                "tools[0].function.parameters");
        assertTrue(e.get("message").asText().contains("'minimum'") && e.get("message").asText().contains(
                "#/properties/n/minimum"), e.toString());
        assertEquals(200, server.post("/v1/chat/completions", chat(tool.formatted("false"))).statusCode());
        e = expectError(server.post("/v1/chat/completions", chat(",\"tools\":[{\"type\":\"function\",\"function\":"
                + "{\"name\":\"f\",\"strict\":true,\"parameters\":{\"type\":\"string\"}}}]")), 400,
                "tools[0].function.parameters");
        assertTrue(e.get("message").asText().contains("must describe a JSON object"), e.toString());
        e = expectError(server.post("/v1/chat/completions", chat(rf + "{\"oneOf\":[{\"type\":\"string\"},"
                + "{\"type\":\"string\",\"maxLength\":2}]}}}")), 400, "response_format.json_schema.schema");
        assertTrue(e.get("message").asText().contains("#/oneOf"), e.toString());
    }

    @Test
    void unknownFieldsAreIgnoredLikeVllm() throws Exception {
        assertEquals(200, server.post("/v1/chat/completions", chat(",\"some_vendor_flag\":{\"a\":1}")).statusCode());
    }

    @Test
    void strictModeRejectsUnknownFields() throws Exception {
        try (TestServer s = new TestServer(ServerConfig.defaults().withRejectUnknownFields(true), 256, true)) {
            JsonNode e = expectError(s.post("/v1/chat/completions", chat(",\"temprature\":0.5")), 400, "temprature");
            assertTrue(e.get("message").asText().contains("temprature"));
            assertEquals(200, s.post("/v1/chat/completions", chat(",\"temperature\":0.5")).statusCode());
        }
    }

    @Test
    void toolErrors() throws Exception {
        String tool = "{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":{\"type\":\"object\"}}}";
        expectError(server.post("/v1/chat/completions", chat(",\"tool_choice\":\"required\"")), 400, "tool_choice");
        expectError(server.post("/v1/chat/completions", chat(",\"tools\":[" + tool + "],\"tool_choice\":"
                + "{\"type\":\"function\",\"function\":{\"name\":\"nope\"}}")), 400, "tool_choice");
        expectError(server.post("/v1/chat/completions", chat(",\"tools\":[{\"type\":\"function\",\"function\":"
                + "{\"name\":\"bad name!\"}}]")), 400, "tools[0].function.name");
        expectError(server.post("/v1/chat/completions",
                "{\"messages\":[{\"role\":\"tool\",\"content\":\"42\"}]}"), 400, "messages[0].tool_call_id");
    }

    @Test
    void templateFailureIs400() throws Exception {
        expectError(server.post("/v1/chat/completions",
                "{\"messages\":[{\"role\":\"user\",\"content\":\"UNRENDERABLE\"}]}"), 400, "messages[0].content");
    }

    @Test
    void conflictingThinkingSwitchesAre400() throws Exception {
        expectError(server.post("/v1/chat/completions", chat(",\"thinking\":{\"type\":\"enabled\"},"
                + "\"chat_template_kwargs\":{\"thinking\":false}")), 400, "chat_template_kwargs.thinking");
        expectError(server.post("/v1/chat/completions", chat(",\"thinking\":{\"type\":\"enabled\"},"
                + "\"reasoning_effort\":\"high\"")), 400, "reasoning_effort");
    }

    @Test
    void queueFullIs429WithRetryAfter() throws Exception {
        try (TestServer s = new TestServer()) {
            s.engine.rejectWith(new RejectedException(RejectedException.Kind.QUEUE_FULL, "256 requests waiting"));
            HttpResponse<String> r = s.post("/v1/chat/completions", chat(""));
            expectError(r, 429, null);
            assertTrue(r.headers().firstValue("retry-after").isPresent());
        }
    }

    @Test
    void engineRejectionsMapToStatuses() throws Exception {
        try (TestServer s = new TestServer()) {
            s.engine.rejectWith(new RejectedException(RejectedException.Kind.TOO_LARGE, "needs 900 KV blocks, 512 exist"));
            assertTrue(expectError(s.post("/v1/chat/completions", chat("")), 400, null).get("message").asText()
                    .contains("900 KV blocks"));
            s.engine.rejectWith(new RejectedException(RejectedException.Kind.UNAVAILABLE, "draining"));
            expectError(s.post("/v1/completions", "{\"prompt\":\"hi\"}"), 503, null);
        }
    }

    @Test
    void notReadyIs503WithProgress() throws Exception {
        try (TestServer s = new TestServer(ServerConfig.defaults(), 256, false)) {
            JsonNode e = expectError(s.post("/v1/chat/completions", chat("")), 503, null);
            assertEquals("not_ready", e.get("code").asText());
            HttpResponse<String> ready = s.get("/ready");
            assertEquals(503, ready.statusCode());
            JsonNode body = JSON.readTree(ready.body());
            assertEquals("loading", body.get("status").asText());
            assertEquals(0.25, body.get("progress").asDouble(), 1e-9);
            assertEquals(200, s.get("/health").statusCode());
            s.state.ready(s.runtime());
            assertEquals(200, s.get("/ready").statusCode());
            s.state.draining();
            assertEquals("shutting_down", expectError(s.post("/v1/chat/completions", chat("")), 503, null)
                    .get("code").asText());
        }
    }

    @Test
    void moonshotPolicyRejectsOtherSamplingValues() throws Exception {
        try (TestServer s = new TestServer(ServerConfig.defaults().withSamplingPolicy(SamplingPolicy.MOONSHOT), 256, true)) {
            assertEquals(200, s.post("/v1/chat/completions", chat("")).statusCode());
            assertEquals(200, s.post("/v1/chat/completions", chat(",\"temperature\":1.0,\"top_p\":0.95,\"n\":1,"
                    + "\"presence_penalty\":0,\"frequency_penalty\":0")).statusCode());
            assertEquals(200, s.post("/v1/chat/completions", chat(",\"temperature\":0.6,"
                    + "\"thinking\":{\"type\":\"disabled\"}")).statusCode());
            expectError(s.post("/v1/chat/completions", chat(",\"temperature\":0.5")), 400, "temperature");
            expectError(s.post("/v1/chat/completions", chat(",\"top_p\":0.8")), 400, "top_p");
            expectError(s.post("/v1/chat/completions", chat(",\"presence_penalty\":0.5")), 400, "presence_penalty");
            expectError(s.post("/v1/chat/completions", chat(",\"frequency_penalty\":0.5")), 400, "frequency_penalty");
            expectError(s.post("/v1/chat/completions", chat(",\"n\":2")), 400, "n");
        }
    }

    @Test
    void unknownPathAndWrongMethod() throws Exception {
        expectError(server.get("/v1/nothing"), 404, null);
        expectError(server.get("/v1/chat/completions"), 405, null);
    }
}
