package io.peregrine.server.http;

import io.peregrine.server.app.ServerConfig;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.server.fakes.TestServer;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Well-formed JSON with wrong content, found by attacking the server from the outside: each case was a 500, a
 * silently ignored field or a misleading message before it was fixed.
 */
class HostileRequestTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String USER = "{\"role\":\"user\",\"content\":\"hi\"}";
    private static final String CALL = "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\","
            + "\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{}\"}}]}";
    private static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        server = new TestServer(ServerConfig.defaults(), 4096, true);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static JsonNode error(HttpResponse<String> r, int status, String param) throws Exception {
        assertEquals(status, r.statusCode(), r.body());
        JsonNode err = JSON.readTree(r.body()).get("error");
        assertTrue(err != null && err.has("message") && err.has("type"), r.body());
        if (param != null) {
            assertEquals(param, err.path("param").asText(), r.body());
        }
        return err;
    }

    private static HttpResponse<String> chat(String messages) throws Exception {
        return server.post("/v1/chat/completions", "{\"max_tokens\":2,\"messages\":[" + messages + "]}");
    }

    @Test
    void tokenizeValidatesMessagesAndToolsLikeChat() throws Exception {
        error(server.post("/tokenize", "{\"messages\":[null]}"), 400, "messages[0]");
        error(server.post("/tokenize", "{\"messages\":[" + USER + "],\"tools\":[null]}"), 400, "tools[0].type");
        error(server.post("/tokenize", "{\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}"), 400,
                "messages[0].role");
        error(server.post("/tokenize", "{\"messages\":[{\"role\":\"user\",\"content\":null}]}"), 400,
                "messages[0].content");
        error(server.post("/tokenize", "{\"messages\":[" + USER + "],\"tools\":[{\"type\":\"retrieval\"}]}"), 400,
                "tools[0].type");
        error(server.post("/tokenize", "{\"messages\":[" + USER + "],\"add_special_tokens\":true}"), 400,
                "add_special_tokens");
        assertEquals(200, server.post("/tokenize", "{\"messages\":[" + USER + "],\"add_special_tokens\":false}")
                .statusCode());
        assertEquals(200, server.post("/tokenize", "{\"messages\":[" + USER + "]}").statusCode());
    }

    /** The prompt builder's refusal of one part names the Responses client's input item, not a merged message. */
    @Test
    void aResponsesPartThePromptRefusesIsNamedByItsInputItem() throws Exception {
        String image = "{\"type\":\"input_image\",\"image_url\":\"data:image/png;base64,AAAA\"}";
        error(server.post("/v1/responses", "{\"max_output_tokens\":2,\"instructions\":\"Be brief.\",\"input\":["
                + "{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\":\"f\",\"arguments\":\"{}\"},"
                + "{\"role\":\"assistant\",\"content\":\"done\"},"
                + "{\"type\":\"function_call_output\",\"call_id\":\"c1\",\"output\":\"ok\"},"
                + "{\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"see\"}," + image + "]}]}"),
                400, "input[3].content[1]");
    }

    @Test
    void aToolMessageMustAnswerACallFromTheHistory() throws Exception {
        error(chat(USER + ",{\"role\":\"tool\",\"tool_call_id\":\"nope\",\"content\":\"r\"}"), 400,
                "messages[1].tool_call_id");
        error(chat("{\"role\":\"tool\",\"tool_call_id\":\"x\",\"content\":\"r\"}"), 400, "messages[0].tool_call_id");
        error(chat(USER + "," + CALL + ",{\"role\":\"tool\",\"tool_call_id\":\"call_2\",\"content\":\"r\"}"), 400,
                "messages[2].tool_call_id");
        assertEquals(200, chat(USER + "," + CALL + ",{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"r\"}")
                .statusCode());
        // Without an id a tool message answers the next unanswered call (the template repairs the history).
        assertEquals(200, chat(USER + "," + CALL + ",{\"role\":\"tool\",\"content\":\"r\"}").statusCode());
        error(chat(USER + "," + CALL + ",{\"role\":\"tool\",\"content\":\"r\"},{\"role\":\"tool\",\"content\":\"s\"}"),
                400, "messages[3].tool_call_id");
    }

    @Test
    void historicalToolCallsMustBeFunctionsButTheirArgumentsMayBeObjects() throws Exception {
        error(chat(USER + ",{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"a\",\"type\":\"retrieval\","
                + "\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]}"), 400, "messages[1].tool_calls[0].type");
        error(chat(USER + ",{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"a\",\"type\":\"function\","
                + "\"function\":{\"name\":\"f\",\"arguments\":5}}]}"), 400, "messages[1].tool_calls[0].function.arguments");
        var ok = chat(USER + ",{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"a\",\"type\":\"function\","
                + "\"function\":{\"name\":\"f\",\"arguments\":{\"city\":\"Oslo\"}}}]},"
                + "{\"role\":\"tool\",\"tool_call_id\":\"a\",\"content\":\"r\"}");
        assertEquals(200, ok.statusCode(), ok.body());
        JsonNode args = server.prompts.last.messages().get(1).toolCalls().getFirst().function().arguments();
        assertEquals("Oslo", args.path("city").asText(), "the object reaches the template as an object: " + args);
    }

    @Test
    void theNegativeMaxTokensErrorNamesTheFieldThatWasSent() throws Exception {
        JsonNode e = error(server.post("/v1/chat/completions", "{\"messages\":[" + USER + "],\"max_tokens\":-1}"),
                400, "max_tokens");
        assertTrue(e.get("message").asText().startsWith("max_tokens "), e.toString());
    }

    @Test
    void completionsRejectWhatTheyDoNotHonour() throws Exception {
        error(server.post("/v1/completions", "{\"prompt\":\"hi\",\"stream\":true,"
                + "\"stream_options\":{\"continuous_usage_stats\":true}}"), 400, "stream_options.continuous_usage_stats");
        error(server.post("/v1/completions", "{\"prompt\":\"hi\",\"best_of\":0}"), 400, "best_of");
        error(server.post("/v1/completions", "{\"prompt\":\"hi\",\"best_of\":-5}"), 400, "best_of");
        assertEquals(200, server.post("/v1/completions", "{\"prompt\":\"hi\",\"best_of\":1}").statusCode());
    }

    @Test
    void completionsDefaultToSixteenTokensAsOpenAiAndVllmDo() throws Exception {
        var r = server.post("/v1/completions", "{\"prompt\":\"hello\"}");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals(16, server.engine.submitted.getLast().sampling().maxTokens());
    }

    @Test
    void vllmExtensionsThatWouldChangeTheResultAreRejectedNotIgnored() throws Exception {
        String[] chatOnly = {"\"chat_template\":\"{{ messages }}\"", "\"documents\":[{\"text\":\"d\"}]",
                "\"add_special_tokens\":true", "\"mm_processor_kwargs\":{\"fps\":1}"};
        String[] shared = {"\"truncate_prompt_tokens\":5", "\"skip_special_tokens\":false",
                "\"bad_words\":[\"x\"]", "\"allowed_token_ids\":[1]", "\"cache_salt\":\"tenant-a\"",
                "\"priority\":3", "\"return_tokens_as_token_ids\":true", "\"guided_decoding_backend\":\"xgrammar\"",
                "\"spaces_between_special_tokens\":false", "\"logits_processors\":[\"x\"]",
                "\"kv_transfer_params\":{}", "\"length_penalty\":2.0"};
        for (String f : chatOnly) {
            String name = f.substring(1, f.indexOf('"', 1));
            JsonNode e = error(server.post("/v1/chat/completions", "{\"messages\":[" + USER + "]," + f + "}"), 400, name);
            assertEquals("unsupported_parameter", e.path("code").asText(), f);
        }
        for (String f : shared) {
            String name = f.substring(1, f.indexOf('"', 1));
            error(server.post("/v1/chat/completions", "{\"messages\":[" + USER + "]," + f + "}"), 400, name);
            error(server.post("/v1/completions", "{\"prompt\":\"hi\"," + f + "}"), 400, name);
        }
        // Their neutral values change nothing and pass.
        assertEquals(200, server.post("/v1/chat/completions", "{\"messages\":[" + USER + "],\"skip_special_tokens\":true,"
                + "\"priority\":0,\"add_special_tokens\":false,\"bad_words\":[],\"length_penalty\":1.0}").statusCode());
    }

    @Test
    void strictModeRejectsUnsupportedFieldsByNameAndPassesTheirNeutralValues() throws Exception {
        try (TestServer strict = new TestServer(ServerConfig.defaults().withRejectUnknownFields(true), 4096, true)) {
            JsonNode e = error(strict.post("/v1/chat/completions", "{\"messages\":[" + USER + "],\"cache_salt\":\"a\"}"),
                    400, "cache_salt");
            assertEquals("unsupported_parameter", e.path("code").asText(), e.toString());
            assertEquals(200, strict.post("/v1/chat/completions", "{\"messages\":[" + USER + "],\"echo\":false}")
                    .statusCode());
            // A completions-only field is still unknown to chat.
            error(strict.post("/v1/chat/completions", "{\"messages\":[" + USER + "],\"suffix\":\"x\"}"), 400, "suffix");
        }
    }

    @Test
    void messageFieldsTheTemplateWouldDropOnThatRoleAreRejected() throws Exception {
        error(chat("{\"role\":\"user\",\"content\":\"hi\",\"reasoning_content\":\"r\"}"), 400,
                "messages[0].reasoning_content");
        error(chat("{\"role\":\"system\",\"content\":\"s\",\"reasoning\":\"r\"}," + USER), 400,
                "messages[0].reasoning");
        error(chat("{\"role\":\"user\",\"content\":\"hi\",\"tool_call_id\":\"x\"}"), 400, "messages[0].tool_call_id");
        assertEquals(200, chat(USER + ",{\"role\":\"assistant\",\"content\":\"a\",\"reasoning_content\":\"r\"}," + USER)
                .statusCode());
    }
}
