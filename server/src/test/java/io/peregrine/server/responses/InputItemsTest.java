package io.peregrine.server.responses;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.api.chat.ChatMessage;
import io.peregrine.api.json.Json;
import io.peregrine.server.http.ApiException;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Responses input items → the chat messages the one chat pipeline renders. */
class InputItemsTest {
    private static final String IMAGE_MESSAGE = "[{\"role\":\"user\",\"content\":[{\"type\":\"input_text\","
            + "\"text\":\"b\"},{\"type\":\"input_image\",\"image_url\":\"data:image/png;base64,AAAA\"}]}]";
    private final ObjectMapper json = Json.newMapper();
    private final InputItems items = new InputItems(json, id -> id.equals("fc_stored_0")
            ? json.valueToTree(java.util.Map.of("type", "function_call", "id", "fc_stored_0", "call_id", "c7",
                    "name", "f", "arguments", "{}")) : null);

    private List<ChatMessage> convert(String input) throws Exception {
        return items.toMessages(items.items(json.readTree(input)), 0).messages();
    }

    private String paramOf(String input) throws Exception {
        return assertThrows(ApiException.class, () -> convert(input)).param();
    }

    @Test
    void aStringIsOneUserMessage() throws Exception {
        List<ChatMessage> m = convert("\"Hello\"");
        assertEquals(1, m.size());
        assertEquals("user", m.getFirst().role());
        assertEquals("Hello", m.getFirst().content().textValue());
    }

    @Test
    void consecutiveOutputItemsAreOneAssistantTurn() throws Exception {
        List<ChatMessage> m = convert("""
                [{"role":"user","content":"Time and date?"},
                 {"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"short"}],
                  "content":[{"type":"reasoning_text","text":"I need both."}]},
                 {"type":"message","role":"assistant","content":[{"type":"output_text","text":"Checking."}]},
                 {"type":"function_call","call_id":"functions.get_time:0","name":"get_time","arguments":"{}"},
                 {"type":"function_call","call_id":"functions.get_date:1","name":"get_date","arguments":"{}"},
                 {"type":"function_call_output","call_id":"functions.get_time:0","output":"12:00"},
                 {"type":"function_call_output","call_id":"functions.get_date:1",
                  "output":[{"type":"input_text","text":"May "},{"type":"input_text","text":"1"}]},
                 {"type":"reasoning","summary":[{"type":"summary_text","text":"Only a summary."}]},
                 {"role":"assistant","content":"Noon, May 1."},
                 {"role":"user","content":[{"type":"input_text","text":"Thanks"},
                   {"type":"input_image","image_url":"data:image/png;base64,AAAA","detail":"low"}]}]
                """);
        assertEquals(List.of("user", "assistant", "tool", "tool", "assistant", "user"),
                m.stream().map(ChatMessage::role).toList());
        ChatMessage turn = m.get(1);
        assertEquals("I need both.", turn.reasoningContent(), "reasoning_text content wins over the summary");
        assertEquals("Checking.", turn.content().textValue());
        assertEquals(List.of("functions.get_time:0", "functions.get_date:1"),
                turn.toolCalls().stream().map(c -> c.id()).toList());
        assertEquals("{}", turn.toolCalls().getFirst().function().arguments().textValue());
        assertEquals("functions.get_time:0", m.get(2).toolCallId());
        assertEquals("12:00", m.get(2).content().textValue());
        assertEquals("May 1", m.get(3).content().textValue());
        assertEquals("Only a summary.", m.get(4).reasoningContent());
        assertEquals("Noon, May 1.", m.get(4).content().textValue());
        JsonNode parts = m.get(5).content();
        assertEquals("text", parts.get(0).path("type").asText());
        assertEquals("image_url", parts.get(1).path("type").asText());
        assertEquals("data:image/png;base64,AAAA", parts.get(1).path("image_url").path("url").asText());
        assertEquals("low", parts.get(1).path("image_url").path("detail").asText());
    }

    @Test
    void aCallWithoutTextHasNoContent() throws Exception {
        List<ChatMessage> m = convert("""
                [{"role":"user","content":"t?"},
                 {"type":"function_call","call_id":"c1","name":"f","arguments":"{}"},
                 {"type":"function_call_output","call_id":"c1","output":"x"}]
                """);
        assertNull(m.get(1).content());
        assertNull(m.get(1).reasoningContent());
    }

    @Test
    void badItemsNameTheirPlace() throws Exception {
        assertEquals("input[1].call_id", paramOf("""
                [{"role":"user","content":"t?"},{"type":"function_call_output","call_id":"nope","output":"x"}]"""));
        assertEquals("input[2].call_id", paramOf("""
                [{"role":"user","content":"t?"},{"type":"function_call","call_id":"c","name":"f","arguments":"{}"},
                 {"type":"function_call","call_id":"c","name":"f","arguments":"{}"}]"""));
        assertEquals("input[0].arguments", paramOf("""
                [{"type":"function_call","call_id":"c","name":"f","arguments":{}}]"""));
        assertEquals("input[0].role", paramOf("[{\"role\":\"tool\",\"content\":\"x\"}]"));
        assertEquals("input[0].type", paramOf("[{\"type\":\"web_search_call\",\"id\":\"ws_1\"}]"));
        assertEquals("input[0].id", paramOf("[{\"type\":\"item_reference\",\"id\":\"msg_1\"}]"));
        assertEquals("input[0].type", paramOf("[{\"content\":\"no role, no type\"}]"));
        assertEquals("input[0].content[0].file_id", paramOf("""
                [{"role":"user","content":[{"type":"input_image","file_id":"file_1"}]}]"""));
        assertEquals("input[0].content[0].type", paramOf("""
                [{"role":"user","content":[{"type":"text","text":"chat's spelling"}]}]"""));
        assertEquals("input", paramOf("[]"));
        assertEquals("input", paramOf("42"));
        assertEquals("input[0]", paramOf("[\"a bare string\"]"));
    }

    @Test
    void anItemReferenceIsTheStoredItem() throws Exception {
        List<ChatMessage> m = convert("""
                [{"role":"user","content":"t?"},{"type":"item_reference","id":"fc_stored_0"},
                 {"type":"function_call_output","call_id":"c7","output":"x"}]""");
        assertEquals(List.of("user", "assistant", "tool"), m.stream().map(ChatMessage::role).toList());
        assertEquals("c7", m.get(1).toolCalls().getFirst().id());
    }

    @Test
    void storedItemsComeFirstAndAreNamedByTheContinuation() throws Exception {
        List<JsonNode> all = new java.util.ArrayList<>(items.items(json.readTree("""
                [{"role":"user","content":"hi"},
                 {"type":"function_call","call_id":"c1","name":"f","arguments":"{}"}]""")));
        all.addAll(items.items(json.readTree("[{\"type\":\"function_call_output\",\"call_id\":\"c1\",\"output\":\"ok\"}]")));
        InputItems.Messages converted = items.toMessages(all, 2);
        List<ChatMessage> m = converted.messages();
        assertEquals(List.of("user", "assistant", "tool"), m.stream().map(ChatMessage::role).toList());
        assertEquals(List.of("previous_response_id", "previous_response_id", "input[0]"),
                converted.paths().stream().map(io.peregrine.server.prompt.MessagePath::message).toList());
        List<JsonNode> withImage = new java.util.ArrayList<>(items.items(json.readTree(IMAGE_MESSAGE)));
        withImage.addAll(items.items(json.readTree(IMAGE_MESSAGE)));
        var paths = items.toMessages(withImage, 1).paths();
        assertEquals("previous_response_id", paths.get(0).part(1));
        assertEquals("input[0].content[1]", paths.get(1).part(1));
        all.add(json.readTree("{\"type\":\"function_call_output\",\"call_id\":\"c9\",\"output\":\"x\"}"));
        assertEquals("input[1].call_id", assertThrows(ApiException.class, () -> items.toMessages(all, 2)).param());
    }
}
