package io.peregrine.server.responses;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.api.responses.OutputItem;
import io.peregrine.api.responses.Response;
import io.peregrine.api.responses.ResponseStreamEvent;
import io.peregrine.engine.parse.OutputDelta;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Parsed output → output items and stream events, on scripted parser output. */
class OutputAssemblerTest {

    private static List<ResponseStreamEvent> accept(OutputAssembler a, Step s) {
        return a.accept(s.deltas(), s.reasoningTokens());
    }

    /** One engine step's deltas, as the engine emits them. */
    private record Step(List<OutputDelta> deltas, int reasoningTokens) {
        static final Step EMPTY = new Step(List.of(), 0);
    }

    private static Step reasoning(String s) {
        return new Step(List.of(new OutputDelta.Reasoning(s)), 1);
    }

    private static Step content(String s) {
        return new Step(List.of(new OutputDelta.Content(s)), 0);
    }

    /** A call's piece: its first carries id and name (and maybe arguments), later ones only arguments. */
    private static Step call(int index, String id, String name, String args) {
        List<OutputDelta> d = new ArrayList<>();
        if (id != null) {
            d.add(new OutputDelta.ToolCallBegin(index, id, name));
        }
        if (id == null || !args.isEmpty()) {
            d.add(new OutputDelta.ToolCallArguments(index, args));
        }
        return new Step(d, 0);
    }

    /** A thinking turn that answers and then calls two tools, as Kimi's parser hands it over. */
    private static final List<Step> TURN = List.of(
            reasoning("Let me "), reasoning("think."), content("\n"), content("Checking"), content(" now."),
            call(0, "functions.get_time:0", "get_time", "{\"tz\":"), call(0, null, null, "\"UTC\"}"),
            call(1, "functions.get_date:1", "get_date", "{}"));

    @Test
    void eachRunOfOneKindIsAnItemInOrder() {
        OutputAssembler a = new OutputAssembler("resp_abc");
        TURN.forEach(d -> accept(a, d));
        a.finish("completed");
        assertEquals(List.of(
                new OutputItem.Reasoning("rs_abc_0", List.of(new OutputItem.ReasoningText("Let me think.")), "completed"),
                new OutputItem.Message("msg_abc_1", "completed", List.of(new OutputItem.OutputText("\nChecking now."))),
                new OutputItem.FunctionCall("fc_abc_2", "functions.get_time:0", "get_time", "{\"tz\":\"UTC\"}", "completed"),
                new OutputItem.FunctionCall("fc_abc_3", "functions.get_date:1", "get_date", "{}", "completed")),
                a.items(), "the newline before the text starts the message");
        assertEquals(2, a.reasoningTokens());
    }

    @Test
    void eventsAreNumberedNestedAndAddUpToTheItems() {
        OutputAssembler a = new OutputAssembler("resp_abc");
        List<ResponseStreamEvent> events = new ArrayList<>();
        Response skeleton = new Response("resp_abc", "response", 0, "in_progress", null, null, null, null, "m",
                List.of(), true, null, null, true, null, null, null, List.of(), null, "disabled", null, null, null);
        events.add(a.lifecycle("response.created", skeleton));
        TURN.forEach(d -> events.addAll(accept(a, d)));
        events.addAll(a.finish("incomplete"));
        events.add(a.lifecycle("response.incomplete", skeleton.with("incomplete", a.items(), null, null, null)));
        for (int i = 0; i < events.size(); i++) {
            assertEquals(i, events.get(i).sequenceNumber(), events.get(i).toString());
        }
        List<String> types = events.stream().map(ResponseStreamEvent::type).toList();
        assertEquals(List.of("response.created",
                "response.output_item.added", "response.content_part.added", "response.reasoning_text.delta",
                "response.reasoning_text.delta", "response.reasoning_text.done", "response.content_part.done",
                "response.output_item.done",
                "response.output_item.added", "response.content_part.added", "response.output_text.delta",
                "response.output_text.delta", "response.output_text.done", "response.content_part.done",
                "response.output_item.done",
                "response.output_item.added", "response.function_call_arguments.delta",
                "response.function_call_arguments.delta", "response.function_call_arguments.done",
                "response.output_item.done",
                "response.output_item.added", "response.function_call_arguments.delta",
                "response.function_call_arguments.done", "response.output_item.done",
                "response.incomplete"), types);
        // the last call was cut short: only the open item is incomplete
        List<OutputItem> items = a.items();
        assertEquals("completed", ((OutputItem.FunctionCall) items.get(2)).status());
        assertEquals("incomplete", ((OutputItem.FunctionCall) items.get(3)).status());
        // every .done item is what its deltas built
        StringBuilder text = new StringBuilder();
        StringBuilder args = new StringBuilder();
        for (ResponseStreamEvent e : events) {
            if (e instanceof ResponseStreamEvent.TextDelta d) {
                assertEquals("msg_abc_1", d.itemId());
                assertEquals(1, d.outputIndex());
                text.append(d.delta());
            } else if (e instanceof ResponseStreamEvent.ArgumentsDelta d && d.outputIndex() == 2) {
                args.append(d.delta());
            } else if (e instanceof ResponseStreamEvent.Item it && it.type().endsWith(".done")) {
                assertEquals(items.get(it.outputIndex()), it.item());
            }
        }
        assertEquals("\nChecking now.", text.toString());
        assertEquals("{\"tz\":\"UTC\"}", args.toString());
    }

    @Test
    void howTheTextIsSplitDoesNotChangeTheItems() {
        String thought = "Considering the falcon's dive speed.";
        String answer = "\nAbout 390 km/h, the fastest of any animal.";
        Random random = new Random(7);
        List<OutputItem> first = null;
        for (int round = 0; round < 50; round++) {
            OutputAssembler a = new OutputAssembler("resp_x");
            feed(a, thought, random, true);
            feed(a, answer, random, false);
            a.finish("completed");
            if (first == null) {
                first = a.items();
                assertEquals(2, first.size(), first.toString());
            } else {
                assertEquals(first, a.items(), "round " + round);
            }
        }
    }

    private static void feed(OutputAssembler a, String s, Random random, boolean asReasoning) {
        int at = 0;
        while (at < s.length()) {
            int end = Math.min(s.length(), at + 1 + random.nextInt(5));
            String piece = s.substring(at, end);
            accept(a, asReasoning ? reasoning(piece) : content(piece));
            at = end;
        }
    }

    @Test
    void whitespaceAloneIsNoMessage() {
        OutputAssembler a = new OutputAssembler("resp_y");
        accept(a, reasoning("hm"));
        accept(a, content("\n \n"));
        a.finish("completed");
        assertEquals(1, a.items().size(), a.items().toString());
        assertTrue(a.items().getFirst() instanceof OutputItem.Reasoning);
    }
}
