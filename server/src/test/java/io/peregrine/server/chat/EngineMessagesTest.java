package io.peregrine.server.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.api.json.Json;
import io.peregrine.engine.chat.ChatMessage;
import io.peregrine.engine.chat.ContentPart;
import io.peregrine.engine.chat.Tool;
import io.peregrine.engine.chat.ToolArguments;
import io.peregrine.engine.chat.ToolCall;
import java.math.BigInteger;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The api's records become the engine's message model field by field; JSON the client sent stays plain JSON. */
class EngineMessagesTest {
    private static final ObjectMapper JSON = Json.newMapper();

    private static List<ChatMessage> map(String messages) throws Exception {
        return EngineMessages.messages(List.of(JSON.readValue(messages, io.peregrine.api.chat.ChatMessage[].class)),
                null);
    }

    @Test
    void everyFieldReachesTheEngineRecord() throws Exception {
        List<ChatMessage> m = map("""
                [{"role":"system","content":"be brief","name":"ops"},
                 {"role":"user","content":[{"type":"text","text":"see"},{"type":"image_url","image_url":{"url":"u1"}},
                   {"type":"video_url","video_url":"u2"},{"type":"input_audio"}]},
                 {"role":"assistant","content":null,"reasoning_content":"r","reasoning":"r2",
                  "tool_calls":[{"id":"functions.f:0","type":"function","function":{"name":"f","arguments":"{\\"a\\":1}"}},
                                {"id":"functions.g:1","function":{"name":"g","arguments":{"x":1.5,"n":12345678901234567890,"l":[true,null]}}},
                                {"id":"functions.h:2","function":{"name":"h"}}]},
                 {"role":"tool","content":"42","tool_call_id":"functions.f:0"}]""");
        assertEquals(new ChatMessage("system", List.of(new ContentPart.Text("be brief")), "ops", null, null, null, null),
                m.get(0));
        assertEquals(List.of(new ContentPart.Text("see"), new ContentPart.Image("u1"), new ContentPart.Video("u2"),
                new ContentPart.Other("input_audio", null)), m.get(1).content());
        ChatMessage assistant = m.get(2);
        assertNull(assistant.content());
        assertEquals("r", assistant.reasoningContent());
        assertEquals("r2", assistant.reasoning());
        assertEquals(new ToolCall("functions.f:0", "f", new ToolArguments.Text("{\"a\":1}")),
                assistant.toolCalls().get(0));
        Map<String, Object> args = new java.util.LinkedHashMap<>();
        args.put("x", 1.5);
        args.put("n", new BigInteger("12345678901234567890"));
        args.put("l", java.util.Arrays.asList(true, null));
        assertEquals(new ToolCall("functions.g:1", "g", new ToolArguments.Value(args)), assistant.toolCalls().get(1));
        assertEquals(new ToolArguments.Text("{}"), assistant.toolCalls().get(2).arguments(), "no arguments: {}");
        assertEquals(new ChatMessage("tool", List.of(new ContentPart.Text("42")), null, null, null, null,
                "functions.f:0"), m.get(3));
    }

    @Test
    void toolParametersArePlainJson() throws Exception {
        var tools = List.of(JSON.readValue("""
                [{"type":"function","function":{"name":"f","description":"d",
                  "parameters":{"type":"object","properties":{"a":{"type":"integer","maximum":3}}}}},
                 {"type":"function","function":{"name":"g"}}]""", io.peregrine.api.chat.Tool[].class));
        assertEquals(List.of(
                Tool.function("f", "d", Map.of("type", "object", "properties",
                        Map.of("a", Map.of("type", "integer", "maximum", 3)))),
                Tool.function("g", null, null)), EngineMessages.tools(tools));
    }

    @Test
    void aStructurallyWrongPartNamesItsPath() throws Exception {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> map("[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":3}]}]"));
        assertEquals("messages[0].content[0].text must be a string", e.getMessage());
        assertEquals("messages[0].content[0] must be an object",
                assertThrows(IllegalArgumentException.class, () -> map("[{\"role\":\"user\",\"content\":[\"x\"]}]"))
                        .getMessage());
    }

    @Test
    void mediaPartsBecomeWhatTheTemplateRendersInTheirPlace() throws Exception {
        var sent = List.of(JSON.readValue("[{\"role\":\"user\",\"content\":[{\"type\":\"file\",\"file\":{}},"
                + "{\"type\":\"text\",\"text\":\"t\"}]}]", io.peregrine.api.chat.ChatMessage[].class));
        List<ChatMessage> m = EngineMessages.messages(sent,
                part -> List.of(new ContentPart.Image("media:0"), new ContentPart.Image("media:0")));
        assertEquals(List.of(new ContentPart.Image("media:0"), new ContentPart.Image("media:0"),
                new ContentPart.Text("t")), m.getFirst().content());
    }
}
