package io.peregrine.server.anthropic;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.api.anthropic.BlockDelta;
import io.peregrine.api.anthropic.ContentBlock;
import io.peregrine.api.anthropic.StreamEvent;
import io.peregrine.api.json.Json;
import io.peregrine.engine.parse.OutputDelta;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** Parsed output into Anthropic blocks: the events, folded the way a client folds them, give the blocks. */
class BlockAssemblerTest {
    private static final ObjectMapper JSON = Json.newMapper();

    /** Folds the events as the SDK's accumulator does: block start, deltas appended, stop. */
    private static List<String> fold(List<StreamEvent> events) throws Exception {
        Map<Integer, StringBuilder> blocks = new TreeMap<>();
        int open = -1;
        for (StreamEvent e : events) {
            switch (e) {
                case StreamEvent.ContentBlockStart s -> {
                    assertEquals(-1, open, "one block open at a time");
                    open = s.index();
                    assertEquals(blocks.size(), s.index(), "indexes count up from 0");
                    blocks.put(s.index(), new StringBuilder(s.contentBlock().type() + ":"
                            + (s.contentBlock() instanceof ContentBlock.ToolUse t ? t.id() + "|" + t.name() + "|" : "")));
                }
                case StreamEvent.ContentBlockDelta d -> {
                    assertEquals(open, d.index());
                    switch (d.delta()) {
                        case BlockDelta.TextDelta t -> blocks.get(d.index()).append(t.text());
                        case BlockDelta.ThinkingDelta t -> blocks.get(d.index()).append(t.thinking());
                        case BlockDelta.SignatureDelta s -> blocks.get(d.index()).append("#").append(s.signature());
                        case BlockDelta.InputJsonDelta j -> blocks.get(d.index()).append(j.partialJson());
                    }
                }
                case StreamEvent.ContentBlockStop s -> {
                    assertEquals(open, s.index());
                    open = -1;
                }
                default -> throw new AssertionError("unexpected " + e);
            }
        }
        assertEquals(-1, open, "every block was closed");
        List<String> out = new ArrayList<>();
        blocks.values().forEach(b -> out.add(b.toString()));
        return out;
    }

    private static List<String> describe(List<ContentBlock> blocks) {
        List<String> out = new ArrayList<>();
        for (ContentBlock b : blocks) {
            out.add(switch (b) {
                case ContentBlock.Text t -> "text:" + t.text();
                case ContentBlock.Thinking t -> "thinking:" + t.thinking() + "#" + t.signature();
                case ContentBlock.ToolUse t -> "tool_use:" + t.id() + "|" + t.name() + "|" + t.input();
            });
        }
        return out;
    }

    private static List<StreamEvent> accept(BlockAssembler a, Step s) {
        return a.accept(s.deltas());
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

    @Test
    void thinkingTextAndCallsInOrderWithTheStreamFoldingToTheBlocks() throws Exception {
        BlockAssembler a = new BlockAssembler(JSON, Set.of("f", "g"));
        List<StreamEvent> events = new ArrayList<>();
        for (Step d : List.of(reasoning("Let me "), reasoning("think."), content(""), content("Calling."),
                call(0, "functions.f:0", "f", "{\"a\":"), call(0, null, null, "1}"), call(1, "functions.g:1", "g", ""),
                Step.EMPTY)) {
            events.addAll(accept(a, d));
        }
        events.addAll(a.finish());
        String sig = BlockAssembler.signature("Let me think.");
        assertEquals(List.of("thinking:Let me think.#" + sig, "text:Calling.", "tool_use:functions.f:0|f|{\"a\":1}",
                "tool_use:functions.g:1|g|{}"), describe(a.blocks()));
        assertEquals(List.of("thinking:Let me think.#" + sig, "text:Calling.", "tool_use:functions.f:0|f|{\"a\":1}",
                "tool_use:functions.g:1|g|{}"), fold(events));
        assertTrue(a.hasToolUse());
    }

    @Test
    void argumentsThatAreNotAJsonObjectComeBackAsTextNotAsACall() throws Exception {
        for (String args : new String[] {"{\"a\": 1", "[1, 2]", "\"x\""}) {
            BlockAssembler a = new BlockAssembler(JSON, Set.of("f", "g"));
            List<StreamEvent> events = new ArrayList<>(accept(a, call(0, "functions.f:0", "f", args)));
            events.addAll(a.finish());
            assertEquals(List.of("text:" + args), describe(a.blocks()));
            assertEquals(describe(a.blocks()), fold(events));
            assertFalse(a.hasToolUse(), args);
        }
    }

    @Test
    void aCallCutInsideItsNameIsNotACall() throws Exception {
        BlockAssembler a = new BlockAssembler(JSON, Set.of("get_time"));
        List<StreamEvent> events = new ArrayList<>(accept(a, reasoning("hm")));
        events.addAll(accept(a, call(0, "functions.get_tim", "get_tim", "")));
        events.addAll(a.finish());
        assertEquals(List.of("thinking:hm#" + BlockAssembler.signature("hm")), describe(a.blocks()));
        assertEquals(describe(a.blocks()), fold(events));
        assertFalse(a.hasToolUse());
    }

    @Test
    void nothingProducedIsNoBlock() throws Exception {
        BlockAssembler a = new BlockAssembler(JSON, Set.of("f", "g"));
        assertTrue(accept(a, Step.EMPTY).isEmpty());
        assertTrue(a.finish().isEmpty());
        assertTrue(a.blocks().isEmpty());
    }
}
