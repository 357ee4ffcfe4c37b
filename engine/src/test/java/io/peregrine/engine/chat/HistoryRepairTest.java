package io.peregrine.engine.chat;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class HistoryRepairTest {
    static final ChatTemplate K25 = ChatTemplate.of(TemplateVariant.K25_OFFICIAL);

    static ToolCall call(String id, String name, String args) {
        return new ToolCall(id, name, new ToolArguments.Text(args));
    }

    @Test
    void foreignIdsAreRewrittenConsistentlyWithTheirResults() {
        List<ChatMessage> msgs = List.of(
                ChatMessage.user("weather in A and B, then time"),
                ChatMessage.assistant(null, null, List.of(call("call_abc", "get_weather", "{\"city\": \"A\"}"),
                        call("toolu_01", "get_weather", "{\"city\": \"B\"}"))),
                ChatMessage.tool("toolu_01", null, "rain"),
                ChatMessage.tool("call_abc", null, "sun"),
                ChatMessage.assistant(null, null, List.of(call("call_abc", "get.time-now", "{}"))),
                ChatMessage.tool("call_abc", null, "12:00"));
        List<ChatMessage> r = HistoryRepair.repair(msgs);
        assertEquals("functions.get_weather:0", r.get(1).toolCalls().get(0).id());
        assertEquals("functions.get_weather:1", r.get(1).toolCalls().get(1).id());
        assertEquals("functions.get_weather:1", r.get(2).toolCallId());
        assertEquals("get_weather", r.get(2).name());
        assertEquals("functions.get_weather:0", r.get(3).toolCallId());
        // the same client id reused in a later turn refers to the later call
        assertEquals("functions.get.time-now:2", r.get(4).toolCalls().get(0).id());
        assertEquals("functions.get.time-now:2", r.get(5).toolCallId());
    }

    @Test
    void canonicalIdsStayAndNewOnesAvoidThem() {
        List<ChatMessage> msgs = List.of(ChatMessage.user("x"),
                ChatMessage.assistant(null, null, List.of(call("weird", "f", "{}"), call("functions.f:0", "f", "{}"))),
                ChatMessage.tool("weird", null, "a"), ChatMessage.tool("functions.f:0", null, "b"));
        List<ChatMessage> r = HistoryRepair.repair(msgs);
        assertEquals("functions.f:1", r.get(1).toolCalls().get(0).id());
        assertEquals("functions.f:0", r.get(1).toolCalls().get(1).id());
        assertEquals("functions.f:1", r.get(2).toolCallId());
        assertEquals("functions.f:0", r.get(3).toolCallId());
    }

    @Test
    void toolMessageWithoutIdAnswersTheNextCall() {
        List<ChatMessage> msgs = List.of(ChatMessage.user("x"),
                ChatMessage.assistant("", null, List.of(call("a", "f", "{}"), call("b", "g", "{}"))),
                ChatMessage.tool(null, null, "one"), ChatMessage.tool("", null, "two"));
        List<ChatMessage> r = HistoryRepair.repair(msgs);
        assertEquals("functions.f:0", r.get(2).toolCallId());
        assertEquals("f", r.get(2).name());
        assertEquals("functions.g:1", r.get(3).toolCallId());
    }

    @Test
    void argumentsInEveryShape() {
        assertEquals(new ToolArguments.Text("{\"a\": 1}"),
                HistoryRepair.repairArguments(new ToolArguments.Text("\"{\\\"a\\\": 1}\"")));
        assertEquals(new ToolArguments.Text("{\"a\": 1}"),
                HistoryRepair.repairArguments(new ToolArguments.Text("{\"a\": 1}")));
        assertEquals(new ToolArguments.Text("{}"), HistoryRepair.repairArguments(new ToolArguments.Text("")));
        // a plain JSON string argument that is not double-encoded JSON stays as it is
        assertEquals(new ToolArguments.Text("\"hello\""),
                HistoryRepair.repairArguments(new ToolArguments.Text("\"hello\"")));
        ToolArguments obj = new ToolArguments.Value(Map.of("city", "Paris"));
        assertEquals(obj, HistoryRepair.repairArguments(obj));
        // object arguments render like the reference: json.dumps with ", " / ": "
        List<ChatMessage> msgs = List.of(ChatMessage.user("x"), ChatMessage.assistant(null, null,
                List.of(new ToolCall("functions.f:0", "f", new ToolArguments.Value(Map.of("k", "v"))))));
        String text = K25.render(HistoryRepair.repair(msgs), List.of(), RenderOptions.defaults()).text();
        assertEquals(true, text.contains("<|tool_call_argument_begin|>{\"k\": \"v\"}<|tool_call_end|>"), text);
    }

    @Test
    void reasoningAliasAndInlineThinkBecomeReasoningContent() {
        ChatMessage alias = new ChatMessage("assistant", null, null, null, "why", List.of(call("functions.f:0", "f",
                "{}")), null);
        ChatMessage r = HistoryRepair.repair(List.of(ChatMessage.user("q"), alias)).get(1);
        assertEquals("why", r.reasoningContent());
        assertNull(r.reasoning());

        ChatMessage inline = ChatMessage.assistant("<think>because</think>Answer.", null,
                List.of(call("functions.f:0", "f", "{}")));
        ChatMessage r2 = HistoryRepair.repair(List.of(ChatMessage.user("q"), inline)).get(1);
        assertEquals("because", r2.reasoningContent());
        assertEquals("Answer.", r2.text());
        // rendered: the current tool-calling turn keeps it, exactly once
        String text = K25.render(HistoryRepair.repair(List.of(ChatMessage.user("q"), inline)), List.of(),
                RenderOptions.defaults()).text();
        assertEquals("<|im_user|>user<|im_middle|>q<|im_end|><|im_assistant|>assistant<|im_middle|>"
                + "<think>because</think>Answer.<|tool_calls_section_begin|><|tool_call_begin|>functions.f:0"
                + "<|tool_call_argument_begin|>{}<|tool_call_end|><|tool_calls_section_end|><|im_end|>"
                + "<|im_assistant|>assistant<|im_middle|><think>", text);
        // an earlier finished turn: inline reasoning is dropped like any history reasoning
        String hist = K25.render(HistoryRepair.repair(List.of(ChatMessage.user("q"),
                ChatMessage.assistant("<think>hmm</think>Hi"), ChatMessage.user("again"))), List.of(),
                RenderOptions.defaults()).text();
        assertEquals("<|im_user|>user<|im_middle|>q<|im_end|><|im_assistant|>assistant<|im_middle|><think></think>"
                + "Hi<|im_end|><|im_user|>user<|im_middle|>again<|im_end|><|im_assistant|>assistant<|im_middle|>"
                + "<think>", hist);
    }

    @Test
    void developerRoleRendersAsSystem() {
        ChatMessage dev = new ChatMessage("developer", List.of(new ContentPart.Text("Be terse.")), null, null, null,
                null, null);
        String text = K25.render(HistoryRepair.repair(List.of(dev, ChatMessage.user("hi"))), List.of(),
                RenderOptions.defaults()).text();
        assertEquals("<|im_system|>system<|im_middle|>Be terse.<|im_end|><|im_user|>user<|im_middle|>hi<|im_end|>"
                + "<|im_assistant|>assistant<|im_middle|><think>", text);
    }

    @Test
    void nullContentBesideToolCallsRendersNothing() {
        String text = K25.render(HistoryRepair.repair(List.of(ChatMessage.user("q"),
                        new ChatMessage("assistant", null, null, null, null, List.of(call("x", "f", "{}")), null),
                        ChatMessage.tool("x", null, "r"))), List.of(), RenderOptions.defaults().withThinking(false))
                .text();
        assertEquals("<|im_user|>user<|im_middle|>q<|im_end|><|im_assistant|>assistant<|im_middle|><think></think>"
                + "<|tool_calls_section_begin|><|tool_call_begin|>functions.f:0<|tool_call_argument_begin|>{}"
                + "<|tool_call_end|><|tool_calls_section_end|><|im_end|><|im_system|>f<|im_middle|>## Return of "
                + "functions.f:0\nr<|im_end|><|im_assistant|>assistant<|im_middle|><think></think>", text);
    }
}
