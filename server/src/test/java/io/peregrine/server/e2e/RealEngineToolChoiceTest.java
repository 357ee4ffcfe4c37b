package io.peregrine.server.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * tool_choice required / a named function over HTTP on the tiny demo checkpoint (real tokenizer, template and
 * parser; random weights that never call a tool on their own). The tools declare no parameters, so their
 * arguments are forced to {@code {}} and the call ends within max_tokens; instant mode, because random weights
 * never close a think block (the engine tests cover thinking mode and free arguments).
 */
class RealEngineToolChoiceTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String TOOLS = "[{\"type\":\"function\",\"function\":{\"name\":\"get_time\","
            + "\"parameters\":{\"type\":\"object\",\"properties\":{}}}},"
            + "{\"type\":\"function\",\"function\":{\"name\":\"get_date\"}}]";
    private static final String NAMED = "{\"type\":\"function\",\"function\":{\"name\":\"get_date\"}}";

    @TempDir
    static Path dir;
    private static RealEngineServer server;

    @BeforeAll
    static void start() throws Exception {
        server = new RealEngineServer(dir.resolve("tiny"), 4);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static String body(String toolChoice, boolean stream, String history) {
        return "{\"model\":\"demo\",\"max_tokens\":40,\"temperature\":0,\"stream\":" + stream
                + ",\"messages\":[" + history + "{\"role\":\"user\",\"content\":\"What time is it?\"}],\"tools\":"
                + TOOLS + ",\"tool_choice\":" + toolChoice + ",\"chat_template_kwargs\":{\"thinking\":false}}";
    }

    private static JsonNode chat(String body) throws Exception {
        HttpResponse<String> r = server.post("/v1/chat/completions", body);
        assertEquals(200, r.statusCode(), r.body());
        return JSON.readTree(r.body()).path("choices").get(0);
    }

    /** The streamed chunks folded: [name, id, arguments, finish_reason] of the first call. */
    private static String[] streamed(String body) throws Exception {
        HttpResponse<String> r = server.post("/v1/chat/completions", body);
        assertEquals(200, r.statusCode(), r.body());
        String name = null;
        String id = null;
        StringBuilder args = new StringBuilder();
        String finish = null;
        for (String line : r.body().split("\n")) {
            if (!line.startsWith("data: ") || line.equals("data: [DONE]")) {
                continue;
            }
            JsonNode c = JSON.readTree(line.substring(6)).path("choices").path(0);
            for (JsonNode call : c.path("delta").path("tool_calls")) {
                assertEquals(0, call.path("index").asInt(), r.body());
                if (call.path("function").hasNonNull("name")) {
                    name = call.path("function").path("name").asText();
                    id = call.path("id").asText();
                }
                args.append(call.path("function").path("arguments").asText(""));
            }
            if (c.hasNonNull("finish_reason")) {
                finish = c.path("finish_reason").asText();
            }
        }
        return new String[] {name, id, args.toString(), finish};
    }

    @Test
    void namedFunctionIsCalledWithTheConversationsNextId() throws Exception {
        JsonNode c = chat(body(NAMED, false, ""));
        assertEquals("tool_calls", c.path("finish_reason").asText(), c.toString());
        JsonNode call = c.path("message").path("tool_calls").get(0);
        assertEquals("get_date", call.path("function").path("name").asText());
        assertEquals("functions.get_date:0", call.path("id").asText());
        assertEquals("{}", call.path("function").path("arguments").asText());
        assertEquals(1, c.path("message").path("tool_calls").size());

        // one call already in the history: Kimi's ids count across the conversation
        String history = "{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"\","
                + "\"tool_calls\":[{\"id\":\"functions.get_time:0\",\"type\":\"function\",\"function\":"
                + "{\"name\":\"get_time\",\"arguments\":\"{}\"}}]},{\"role\":\"tool\",\"tool_call_id\":"
                + "\"functions.get_time:0\",\"content\":\"12:00\"},";
        JsonNode again = chat(body(NAMED, false, history));
        assertEquals("functions.get_date:1", again.path("message").path("tool_calls").get(0).path("id").asText(),
                again.toString());
    }

    @Test
    void namedFunctionStreamed() throws Exception {
        String[] s = streamed(body(NAMED, true, ""));
        assertEquals("get_date", s[0]);
        assertEquals("functions.get_date:0", s[1]);
        assertEquals("{}", s[2]);
        assertEquals("tool_calls", s[3]);
    }

    @Test
    void requiredCallsADeclaredFunction() throws Exception {
        JsonNode c = chat(body("\"required\"", false, ""));
        assertEquals("tool_calls", c.path("finish_reason").asText(), c.toString());
        JsonNode calls = c.path("message").path("tool_calls");
        assertTrue(calls.size() >= 1, c.toString());
        for (int i = 0; i < calls.size(); i++) {
            JsonNode call = calls.get(i);
            assertEquals("functions." + call.path("function").path("name").asText() + ":" + i, call.path("id").asText());
            assertTrue(Set.of("get_time", "get_date").contains(call.path("function").path("name").asText()), c.toString());
            assertEquals("{}", call.path("function").path("arguments").asText());
        }
        String[] s = streamed(body("\"required\"", true, ""));
        assertNotNull(s[0]);
        assertTrue(Set.of("get_time", "get_date").contains(s[0]), s[0]);
        assertEquals("tool_calls", s[3]);
    }

    @Test
    void everyChoiceIsConstrained() throws Exception {
        String body = body("\"required\"", false, "").replace("\"temperature\":0",
                "\"temperature\":1.0,\"seed\":5,\"n\":2,\"parallel_tool_calls\":false");
        HttpResponse<String> r = server.post("/v1/chat/completions", body);
        assertEquals(200, r.statusCode(), r.body());
        JsonNode choices = JSON.readTree(r.body()).path("choices");
        assertEquals(2, choices.size());
        for (JsonNode c : choices) {
            assertEquals("tool_calls", c.path("finish_reason").asText(), c.toString());
            assertEquals(1, c.path("message").path("tool_calls").size(), "parallel_tool_calls false: " + c);
            String name = c.path("message").path("tool_calls").get(0).path("function").path("name").asText();
            assertTrue(Set.of("get_time", "get_date").contains(name), c.toString());
        }
    }

    @Test
    void autoLeavesTheChoiceToCallToTheModel() throws Exception {
        // the same request with tool_choice auto: the random weights answer in text (auto only holds a call the
        // model starts to the rules), so the calls above are the constraint's doing
        JsonNode c = chat(body("\"auto\"", false, ""));
        assertTrue(c.path("message").path("tool_calls").isMissingNode() || c.path("message").path("tool_calls").isEmpty(),
                c.toString());
    }
}
