package io.peregrine.server.responses;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.peregrine.api.chat.ChatMessage;
import io.peregrine.engine.runtime.FinishReason;
import io.peregrine.server.fakes.FakeEngine;
import io.peregrine.server.fakes.TestServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code /v1/responses} over HTTP on a scripted engine and marker parser: exact item shapes for reasoning, text and
 * a call with real arguments, a failure after the stream started, and a tool round trip through the store.
 */
class ResponsesHttpTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String TOOLS = "\"tools\":[{\"type\":\"function\",\"name\":\"get_time\",\"parameters\":"
            + "{\"type\":\"object\",\"properties\":{\"tz\":{\"type\":\"string\"}}}}]";
    private static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        server = new TestServer();
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static JsonNode create(String body) throws Exception {
        HttpResponse<String> r = server.post("/v1/responses", body);
        assertEquals(200, r.statusCode(), r.body());
        return JSON.readTree(r.body());
    }

    /**
     * The stream's data objects, checking each event line names its data's type. Its own client: a stream that
     * fails closes its connection, which must not be the one a pooled client hands the next request.
     */
    private static List<JsonNode> events(String body) throws Exception {
        HttpResponse<String> r;
        try (HttpClient http = HttpClient.newHttpClient()) {
            r = http.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + "/v1/responses"))
                    .POST(HttpRequest.BodyPublishers.ofString(body)).header("Content-Type", "application/json").build(),
                    HttpResponse.BodyHandlers.ofString());
        }
        assertEquals(200, r.statusCode(), r.body());
        assertFalse(r.body().contains("[DONE]"));
        List<JsonNode> out = new ArrayList<>();
        for (String block : r.body().split("\n\n")) {
            if (block.startsWith(":")) {
                continue; // keep-alive comment
            }
            String[] lines = block.split("\n");
            JsonNode data = JSON.readTree(lines[1].substring("data: ".length()));
            assertEquals("event: " + data.path("type").asText(), lines[0]);
            out.add(data);
        }
        return out;
    }

    /** Output items without their ids (which differ per response). */
    private static JsonNode withoutIds(JsonNode output) {
        ArrayNode copy = output.deepCopy();
        copy.forEach(item -> ((ObjectNode) item).remove("id"));
        return copy;
    }

    @Test
    void reasoningTextAndACallBecomeItemsStreamedOrNot() throws Exception {
        server.engine.script(r -> FakeEngine.Script.of(FinishReason.STOP, "Let ", "me think", "</think>", "Hi",
                "<call:get_time>", "{\"tz\":", "\"UTC\"}", "</call>"));
        String body = "{\"input\":\"time?\"," + TOOLS + "}";
        JsonNode r = create(body);
        assertEquals("completed", r.path("status").asText());
        JsonNode output = r.path("output");
        assertEquals(3, output.size(), output.toString());
        assertEquals("reasoning", output.get(0).path("type").asText());
        assertEquals("Let me think", output.get(0).path("content").get(0).path("text").asText());
        assertEquals("reasoning_text", output.get(0).path("content").get(0).path("type").asText());
        assertEquals(0, output.get(0).path("summary").size());
        assertEquals("message", output.get(1).path("type").asText());
        assertEquals("Hi", output.get(1).path("content").get(0).path("text").asText());
        JsonNode call = output.get(2);
        assertEquals("function_call", call.path("type").asText());
        assertEquals("functions.get_time:0", call.path("call_id").asText());
        assertEquals("get_time", call.path("name").asText());
        assertEquals("{\"tz\":\"UTC\"}", call.path("arguments").asText());
        assertEquals("completed", call.path("status").asText());
        assertEquals(8, r.path("usage").path("output_tokens").asInt());
        assertEquals(3, r.path("usage").path("output_tokens_details").path("reasoning_tokens").asInt());

        List<JsonNode> events = events(body.replace("{\"input\"", "{\"stream\":true,\"input\""));
        JsonNode last = events.getLast();
        assertEquals("response.completed", last.path("type").asText());
        assertEquals(withoutIds(output), withoutIds(last.path("response").path("output")));
        assertEquals(r.path("usage"), last.path("response").path("usage"));
        StringBuilder args = new StringBuilder();
        for (JsonNode e : events) {
            if (e.path("type").asText().equals("response.function_call_arguments.delta")) {
                assertEquals(2, e.path("output_index").asInt());
                args.append(e.path("delta").asText());
            }
        }
        assertEquals("{\"tz\":\"UTC\"}", args.toString());
    }

    @Test
    void aFailureAfterTheStartEndsTheStreamWithResponseFailed() throws Exception {
        server.engine.script(r -> FakeEngine.Script.of(FinishReason.STOP, "Hel", "lo", FakeEngine.FAIL));
        List<JsonNode> events = events("{\"input\":\"hi\",\"stream\":true,\"reasoning\":{\"effort\":\"none\"}}");
        JsonNode last = events.getLast();
        assertEquals("response.failed", last.path("type").asText(), events.toString());
        assertEquals("failed", last.path("response").path("status").asText());
        assertEquals("server_error", last.path("response").path("error").path("code").asText());
        assertTrue(last.path("response").path("error").path("message").asText().contains("scripted failure"));
        assertEquals(events.size() - 1, last.path("sequence_number").asInt());
        assertTrue(events.stream().noneMatch(e -> e.path("type").asText().equals("response.completed")));

        HttpResponse<String> whole = server.post("/v1/responses", "{\"input\":\"hi\"}");
        assertEquals(500, whole.statusCode(), whole.body());
        assertTrue(JSON.readTree(whole.body()).path("error").path("message").asText().contains("scripted failure"));
    }

    @Test
    void aToolRoundTripContinuesFromTheStoredResponse() throws Exception {
        server.engine.script(r -> FakeEngine.Script.of(FinishReason.STOP, "</think>", "<call:get_time>", "{}",
                "</call>"));
        JsonNode first = create("{\"input\":\"time?\"," + TOOLS + "}");
        String callId = first.path("output").get(0).path("call_id").asText();
        assertEquals("functions.get_time:0", callId);

        JsonNode second = create("{\"previous_response_id\":\"" + first.path("id").asText() + "\",\"input\":"
                + "[{\"type\":\"function_call_output\",\"call_id\":\"" + callId + "\",\"output\":\"12:00\"}]," + TOOLS + "}");
        List<ChatMessage> sent = server.prompts.last.messages();
        assertEquals(List.of("user", "assistant", "tool"), sent.stream().map(ChatMessage::role).toList());
        assertEquals(callId, sent.get(1).toolCalls().getFirst().id());
        assertEquals("12:00", sent.get(2).content().textValue());
        assertEquals("functions.get_time:1", second.path("output").get(0).path("call_id").asText(),
                "Kimi's call ids count across the whole conversation, stored turns included");
        assertEquals(first.path("id"), second.path("previous_response_id"));

        JsonNode got = JSON.readTree(server.get("/v1/responses/" + second.path("id").asText()).body());
        assertEquals(second, got);

        // the AI SDK (opencode) refers to stored output by id instead of resending it
        String callItem = first.path("output").get(0).path("id").asText();
        create("{\"input\":[{\"role\":\"user\",\"content\":\"time?\"},{\"type\":\"item_reference\",\"id\":\""
                + callItem + "\"},{\"type\":\"function_call_output\",\"call_id\":\"" + callId + "\",\"output\":"
                + "\"13:00\"}]," + TOOLS + "}");
        sent = server.prompts.last.messages();
        assertEquals(List.of("user", "assistant", "tool"), sent.stream().map(ChatMessage::role).toList());
        assertEquals(callId, sent.get(1).toolCalls().getFirst().id());
        assertEquals("13:00", sent.get(2).content().textValue());
    }

    /** A later turn as Codex CLI sends it (store off, encrypted reasoning asked for, shell tool, history items). */
    @Test
    void aCodexTurnIsAccepted() throws Exception {
        server.engine.script(r -> FakeEngine.Script.of(FinishReason.STOP, "Sure", "</think>", "Done."));
        String body = """
                {"model":"kimi-k2.5","instructions":"You are a coding agent.","input":[
                 {"type":"message","role":"user","content":[{"type":"input_text","text":"<environment_context/>"}]},
                 {"type":"message","role":"user","content":[{"type":"input_text","text":"list files"}]},
                 {"type":"reasoning","id":"rs_1","summary":[],"content":null,"encrypted_content":null},
                 {"type":"function_call","id":"fc_1","name":"shell","arguments":"{\\"command\\":[\\"ls\\"]}","call_id":"call_1"},
                 {"type":"function_call_output","call_id":"call_1","output":"a\\nb"},
                 {"type":"message","role":"assistant","id":"msg_1","content":[{"type":"output_text","text":"Two files."}]},
                 {"type":"message","role":"user","content":[{"type":"input_text","text":"thanks"}]}],
                 "tools":[{"type":"function","name":"shell","description":"Runs a command","strict":false,
                   "parameters":{"type":"object","properties":{"command":{"type":"array","items":{"type":"string"}}},
                   "required":["command"],"additionalProperties":false}}],
                 "tool_choice":"auto","parallel_tool_calls":false,"reasoning":{"effort":"medium","summary":"auto"},
                 "store":false,"stream":true,"include":["reasoning.encrypted_content"],"prompt_cache_key":"k1"}
                """;
        List<JsonNode> events = events(body);
        JsonNode done = events.getLast();
        assertEquals("response.completed", done.path("type").asText(), events.toString());
        assertEquals(List.of("reasoning", "message"), List.of(done.path("response").path("output").get(0).path("type")
                .asText(), done.path("response").path("output").get(1).path("type").asText()));
        List<ChatMessage> sent = server.prompts.last.messages();
        assertEquals(List.of("system", "user", "user", "assistant", "tool", "assistant", "user"),
                sent.stream().map(ChatMessage::role).toList());
        assertEquals("call_1", sent.get(3).toolCalls().getFirst().id());
        assertEquals("Two files.", sent.get(5).content().textValue());
        assertTrue(server.prompts.last.thinking().enabled(), "effort medium keeps thinking on");
        assertEquals(404, server.get("/v1/responses/" + done.path("response").path("id").asText()).statusCode(),
                "store: false keeps nothing");
    }
}
