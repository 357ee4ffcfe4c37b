package io.peregrine.engine.parse;

import io.peregrine.engine.tokenizer.KimiTokenizer;
import io.peregrine.engine.tokenizer.Tokenizers;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OutputParserTest {
    static final KimiTokenizer TOK = Tokenizers.bundled();
    static final MarkerIds M = MarkerIds.from(TOK);

    /** Builds an id sequence from text pieces (ordinary text) and marker ids. */
    static int[] seq(Object... parts) {
        List<Integer> ids = new ArrayList<>();
        for (Object p : parts) {
            if (p instanceof String s) {
                for (int id : TOK.encodeOrdinary(s)) {
                    ids.add(id);
                }
            } else {
                ids.add((Integer) p);
            }
        }
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    static ParsedMessage parse(boolean thinking, int[] ids, OutputFinish r) {
        return OutputParser.parse(TOK, M, thinking, ids, r);
    }

    @Test
    void reasoningThenContent() {
        ParsedMessage m = parse(true, seq("The user wants 2.", M.thinkEnd(), "It is 2.", M.imEnd()), OutputFinish.STOP);
        assertEquals("The user wants 2.", m.reasoning());
        assertEquals("It is 2.", m.content());
        assertEquals(List.of(), m.toolCalls());
        assertEquals(OutputFinish.STOP, m.finish());
        assertFalse(m.truncatedInReasoning());
    }

    @Test
    void instantModeIsAllContent() {
        ParsedMessage m = parse(false, seq("Hello there", M.imEnd()), OutputFinish.STOP);
        assertNull(m.reasoning());
        assertEquals("Hello there", m.content());
    }

    @Test
    void forPromptStartsInReasoningOnlyAfterThink() {
        int[] out = seq("abc", M.thinkEnd(), "x", M.imEnd());
        OutputParser p = OutputParser.forPrompt(TOK, M, new int[] {1, 2, M.thinkBegin()});
        p.push(out);
        p.finish(OutputFinish.STOP);
        assertEquals("abc", p.message().reasoning());
        OutputParser q = OutputParser.forPrompt(TOK, M, new int[] {1, M.thinkBegin(), M.thinkEnd()});
        q.push(seq("x", M.imEnd()));
        q.finish(OutputFinish.STOP);
        assertNull(q.message().reasoning());
        assertEquals("x", q.message().content());
    }

    @Test
    void toolCallsWithImplicitReasoningEndDottedAndHyphenatedNames() {
        int[] ids = seq("Need tools.", M.sectionBegin(),
                M.callBegin(), "functions.web.search-v2:0", M.argumentBegin(), "{\"q\": \"kimi\"}", M.callEnd(),
                M.callBegin(), "functions.get_weather:1", M.argumentBegin(), "{\"city\": \"北京\"}", M.callEnd(),
                M.sectionEnd(), M.imEnd());
        ParsedMessage m = parse(true, ids, OutputFinish.STOP);
        assertEquals("Need tools.", m.reasoning());
        assertNull(m.content());
        assertEquals(OutputFinish.TOOL_CALLS, m.finish());
        assertEquals(List.of(
                new ParsedToolCall(0, "functions.web.search-v2:0", "web.search-v2", "{\"q\": \"kimi\"}", true),
                new ParsedToolCall(1, "functions.get_weather:1", "get_weather", "{\"city\": \"北京\"}", true)),
                m.toolCalls());
    }

    @Test
    void callWithoutSectionMarkerInsideReasoning() {
        ParsedMessage m = parse(true, seq("hmm", M.callBegin(), "functions.f:0", M.argumentBegin(), "{}", M.callEnd(),
                M.imEnd()), OutputFinish.STOP);
        assertEquals("hmm", m.reasoning());
        assertEquals(OutputFinish.TOOL_CALLS, m.finish());
        assertEquals("f", m.toolCalls().get(0).name());
    }

    @Test
    void contentBeforeToolSection() {
        ParsedMessage m = parse(true, seq("r", M.thinkEnd(), "Let me check.", M.sectionBegin(), M.callBegin(),
                "functions.f:0", M.argumentBegin(), "{}", M.callEnd(), M.sectionEnd(), M.imEnd()), OutputFinish.STOP);
        assertEquals("Let me check.", m.content());
        assertEquals("f", m.toolCalls().get(0).name());
    }

    @Test
    void missingSectionEndAtMaxTokens() {
        ParsedMessage m = parse(true, seq("r", M.thinkEnd(), M.sectionBegin(), M.callBegin(), "functions.f:0",
                M.argumentBegin(), "{\"a\": [1, 2"), OutputFinish.LENGTH);
        assertEquals(OutputFinish.LENGTH, m.finish());
        assertFalse(m.truncatedInReasoning());
        assertEquals(new ParsedToolCall(0, "functions.f:0", "f", "{\"a\": [1, 2", false), m.toolCalls().get(0));
    }

    @Test
    void argumentValidity() {
        assertTrue(new ParsedToolCall(0, "functions.f:0", "f", "{\"a\": [1]}", true).argumentsAreJsonObject());
        assertFalse(new ParsedToolCall(0, "functions.f:0", "f", "{\"a\": [1", false).argumentsAreJsonObject());
        assertFalse(new ParsedToolCall(0, "functions.f:0", "f", "{} trailing", true).argumentsAreJsonObject());
        assertFalse(new ParsedToolCall(0, "functions.f:0", "f", "[1]", true).argumentsAreJsonObject());
    }

    @Test
    void missingCallAndSectionEndBeforeImEnd() {
        ParsedMessage m = parse(false, seq(M.sectionBegin(), M.callBegin(), "functions.f:0", M.argumentBegin(),
                "{}", M.callBegin(), "functions.g:1", M.argumentBegin(), "{\"x\": 1}", M.imEnd()), OutputFinish.STOP);
        assertEquals(2, m.toolCalls().size());
        assertEquals("{}", m.toolCalls().get(0).arguments());
        assertEquals("{\"x\": 1}", m.toolCalls().get(1).arguments());
        assertTrue(m.toolCalls().get(1).complete());
    }

    @Test
    void lengthCutInsideReasoningIsFlagged() {
        ParsedMessage m = parse(true, seq("still thinking about"), OutputFinish.LENGTH);
        assertTrue(m.truncatedInReasoning());
        assertEquals(OutputFinish.LENGTH, m.finish());
        assertNull(m.content());
    }

    @Test
    void eosEndsAndNothingAfterTheEndCounts() {
        ParsedMessage m = parse(false, seq("a", M.eos(), "b", M.imEnd(), "c"), OutputFinish.STOP);
        assertEquals("a", m.content());
    }

    @Test
    void noMarkerLeaksIntoText() {
        int[] ids = seq("r", M.thinkBegin(), "s", TOK.requireSpecialId("<|im_user|>"), M.thinkEnd(), "c",
                TOK.requireSpecialId("<|media_pad|>"), M.thinkEnd(), "d", M.sectionEnd(), "e", M.imEnd());
        ParsedMessage m = parse(true, ids, OutputFinish.STOP);
        assertEquals("rs", m.reasoning());
        assertEquals("cde", m.content());
    }

    @Test
    void streamingDeltasComeInOpenAiOrder() {
        OutputParser p = new OutputParser(TOK, M, true);
        List<OutputDelta> all = new ArrayList<>();
        for (int id : seq("think", M.thinkEnd(), "ok", M.sectionBegin(), M.callBegin(), "functions.f:0",
                M.argumentBegin(), "{\"a\": 1}", M.callEnd(), M.sectionEnd(), M.imEnd())) {
            all.addAll(p.push(id));
        }
        all.addAll(p.finish(OutputFinish.STOP));
        assertTrue(p.ended());
        int begin = indexOf(all, OutputDelta.ToolCallBegin.class);
        assertEquals(new OutputDelta.ToolCallBegin(0, "functions.f:0", "f"), all.get(begin));
        for (int i = 0; i < all.size(); i++) {
            if (all.get(i) instanceof OutputDelta.ToolCallArguments) {
                assertTrue(i > begin, "arguments only after the call's id/name");
            }
        }
        assertInstanceOf(OutputDelta.Reasoning.class, all.get(0));
    }

    static int indexOf(List<OutputDelta> l, Class<?> c) {
        return IntStream.range(0, l.size()).filter(i -> c.isInstance(l.get(i))).findFirst().orElse(-1);
    }

    @Test
    void multiByteCharacterAcrossTokensIsNeverSplit() {
        // 🤗 is three byte-tokens: the reasoning delta must carry it whole
        int[] ids = seq(5885, 97, 245, M.thinkEnd(), "x", M.imEnd());
        OutputParser p = new OutputParser(TOK, M, true);
        List<OutputDelta> d = new ArrayList<>();
        for (int id : ids) {
            d.addAll(p.push(id));
        }
        assertEquals(new OutputDelta.Reasoning("\uD83E\uDD17"), d.get(0));
    }

    @Test
    void remappedMarkerIdsOfTheTinyCheckpoint() {
        MarkerIds tiny = M.withFirstSpecial(1792);
        assertEquals(1815, tiny.thinkEnd());
        assertEquals(1794, tiny.imEnd());
        assertEquals(1803, tiny.sectionBegin());
        int[] ids = new int[] {19, 20, 1815, 21, 1794};
        ParsedMessage m = OutputParser.parse(TOK, tiny, true, ids, OutputFinish.STOP);
        assertEquals(TOK.decode(new int[] {19, 20}), m.reasoning());
        assertEquals(TOK.decode(new int[] {21}), m.content());
        // the real id of </think> is an ordinary id of nothing in the tiny vocabulary: not a marker there
        assertFalse(tiny.isSpecial(M.thinkEnd()) && tiny.thinkEnd() == M.thinkEnd());
    }

    /** Any split of the same ids into push steps gives the one-shot message, and the deltas rebuild it. */
    @Test
    void anySplitGivesTheSameMessage() {
        Random rnd = new Random(42);
        int[] specials = {M.thinkBegin(), M.thinkEnd(), M.sectionBegin(), M.sectionEnd(), M.callBegin(),
                M.argumentBegin(), M.callEnd(), TOK.requireSpecialId("<|im_user|>")};
        String[] texts = {"Hello", " 世界", "🤗", "functions.f.g-h:3", "{\"a\": [1, 2]}", "\n\n", "naïve"};
        for (int trial = 0; trial < 400; trial++) {
            List<Integer> ids = new ArrayList<>();
            int n = 1 + rnd.nextInt(25);
            for (int i = 0; i < n; i++) {
                int k = rnd.nextInt(10);
                if (k < 3) {
                    ids.add(specials[rnd.nextInt(specials.length)]);
                } else if (k < 4) {
                    ids.add(rnd.nextInt(256)); // raw byte tokens: partial UTF-8
                } else {
                    for (int id : TOK.encodeOrdinary(texts[rnd.nextInt(texts.length)])) {
                        ids.add(id);
                    }
                }
            }
            if (rnd.nextBoolean()) {
                ids.add(M.imEnd());
            }
            int[] all = ids.stream().mapToInt(Integer::intValue).toArray();
            boolean thinking = rnd.nextBoolean();
            OutputFinish reason = rnd.nextBoolean() ? OutputFinish.STOP : OutputFinish.LENGTH;
            ParsedMessage oneShot = parse(thinking, all, reason);

            OutputParser p = new OutputParser(TOK, M, thinking);
            MessageAccumulator client = new MessageAccumulator();
            int i = 0;
            while (i < all.length) {
                int step = 1 + rnd.nextInt(5);
                int[] chunk = Arrays.copyOfRange(all, i, Math.min(all.length, i + step));
                i += chunk.length;
                List<OutputDelta> deltas = p.push(chunk);
                for (OutputDelta d : deltas) {
                    assertNoEmptyDelta(d);
                }
                client.applyAll(deltas);
            }
            client.applyAll(p.finish(reason));
            assertEquals(oneShot, p.message(), "trial " + trial + " ids " + Arrays.toString(all));
            ParsedMessage rebuilt = client.build(oneShot.finish(), oneShot.truncatedInReasoning(),
                    oneShot.toolCalls().stream().filter(c -> !c.complete()).mapToInt(ParsedToolCall::index)
                            .findFirst().orElse(-1));
            assertEquals(oneShot, rebuilt, "deltas rebuild the message; trial " + trial);
            for (String s : new String[] {oneShot.reasoning(), oneShot.content()}) {
                if (s != null) {
                    assertFalse(s.contains("<|") || s.contains("<think>") || s.contains("</think>"), s);
                }
            }
        }
    }

    static void assertNoEmptyDelta(OutputDelta d) {
        switch (d) {
            case OutputDelta.Reasoning r -> assertFalse(r.text().isEmpty());
            case OutputDelta.Content c -> assertFalse(c.text().isEmpty());
            case OutputDelta.ToolCallArguments a -> assertFalse(a.fragment().isEmpty());
            case OutputDelta.ToolCallBegin b -> { }
        }
    }
}
