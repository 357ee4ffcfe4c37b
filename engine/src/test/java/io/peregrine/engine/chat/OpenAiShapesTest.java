package io.peregrine.engine.chat;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OpenAiShapesTest {
    @Test
    void mapsEveryShape() {
        Map<String, Object> assistant = new HashMap<>();
        assistant.put("role", "assistant");
        assistant.put("content", null);
        assistant.put("reasoning_content", "r");
        assistant.put("tool_calls", List.of(
                Map.of("id", "c1", "type", "function", "function", Map.of("name", "f", "arguments", "{}")),
                Map.of("id", "c2", "type", "function", "function", Map.of("name", "g", "arguments", Map.of("x", 1)))));
        List<ChatMessage> msgs = OpenAiShapes.messages(List.of(
                Map.of("role", "user", "content", List.of(Map.of("type", "text", "text", "hi"),
                        Map.of("type", "image_url", "image_url", Map.of("url", "data:x")),
                        Map.of("type", "video_url", "video_url", Map.of("url", "v.mp4")))),
                assistant,
                Map.of("role", "tool", "tool_call_id", "c1", "content", "ok")));
        assertEquals(List.of(new ContentPart.Text("hi"), new ContentPart.Image("data:x"), new ContentPart.Video("v.mp4")),
                msgs.get(0).content());
        assertNull(msgs.get(1).content());
        assertEquals("r", msgs.get(1).reasoningContent());
        assertEquals(new ToolArguments.Text("{}"), msgs.get(1).toolCalls().get(0).arguments());
        assertEquals(new ToolArguments.Value(Map.of("x", 1)), msgs.get(1).toolCalls().get(1).arguments());
        assertEquals("c1", msgs.get(2).toolCallId());
    }

    @Test
    void badInputNamesThePath() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> OpenAiShapes.messages(List.of(Map.of("role", "user", "content", "x"), Map.of("content", "y"))));
        assertTrue(e.getMessage().contains("messages[1].role"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> OpenAiShapes.messages(List.of(
                Map.of("role", "assistant", "tool_calls", List.of(Map.of("id", "x", "function", Map.of()))))));
        assertTrue(e.getMessage().contains("messages[0].tool_calls[0].function.name"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> OpenAiShapes.messages(List.of(Map.of("role", "user", "content", 5))));
        assertTrue(e.getMessage().contains("messages[0].content"), e.getMessage());
    }

    @Test
    void templateFromACheckpointDirectory() {
        ChatTemplate t = ChatTemplate.fromCheckpoint(java.nio.file.Path.of("src/main/resources/io/peregrine/engine/kimi-k25"));
        assertEquals("native K25_OFFICIAL", t.describe());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ChatTemplate.fromCheckpoint(java.nio.file.Path.of("nowhere")));
        assertTrue(e.getMessage().contains("chat_template.jinja"));
    }
}
