package io.peregrine.engine.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.parse.MarkerIds;
import io.peregrine.engine.parse.MessageAccumulator;
import io.peregrine.engine.parse.OutputDelta;
import io.peregrine.engine.parse.OutputFinish;
import io.peregrine.engine.parse.OutputParser;
import io.peregrine.engine.parse.ParsedMessage;
import io.peregrine.engine.tokenizer.KimiTokenizer;
import io.peregrine.engine.tokenizer.Tokenizers;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * A choice's output: ids become text once, stop strings cut that text, and the parser gets only what was released
 * (text held back as a possible stop-string start, and nothing from a stop string on, even inside a token).
 */
class ChoiceOutputTest {
    static final KimiTokenizer TOK = Tokenizers.bundled();
    static final MarkerIds M = MarkerIds.from(TOK);

    /** The real tokenizer as the engine sees it, counting how often a token's bytes are read. */
    static final class CountingDecoder implements TokenDecoder {
        int reads;

        @Override
        public byte[] bytes(int id) {
            reads++;
            return TOK.tokenBytes(id);
        }

        @Override
        public boolean isSpecial(int id) {
            return TOK.isSpecial(id);
        }
    }

    /** Reasoning and content as a client receives them, streamed step by step. */
    private record Sent(String reasoning, String content, int reasoningTokens, int stepsWithContent, String text) {}

    private static Sent run(boolean thinking, int[] ids, List<String> stops) {
        ChoiceOutput out = new ChoiceOutput(new CountingDecoder(), false, stops, new OutputParser(M, thinking));
        List<ChoiceOutput.Released> steps = new ArrayList<>();
        String stop = null;
        for (int id : ids) {
            stop = out.push(id);
            if (stop != null) {
                break;
            }
            steps.add(out.take());
        }
        out.finish(-1, FinishReason.STOP, stop == null);
        steps.add(out.take());
        StringBuilder reasoning = new StringBuilder();
        StringBuilder content = new StringBuilder();
        StringBuilder text = new StringBuilder();
        int reasoningTokens = 0;
        int withContent = 0;
        for (ChoiceOutput.Released r : steps) {
            text.append(r.text());
            reasoningTokens += r.reasoningTokens();
            boolean any = false;
            for (OutputDelta d : r.deltas()) {
                switch (d) {
                    case OutputDelta.Reasoning x -> reasoning.append(x.text());
                    case OutputDelta.Content x -> {
                        content.append(x.text());
                        any |= !x.text().isEmpty();
                    }
                    default -> { }
                }
            }
            withContent += any ? 1 : 0;
        }
        return new Sent(reasoning.toString(), content.toString(), reasoningTokens, withContent, text.toString());
    }

    private static int[] ids(String text) {
        return TOK.encodeOrdinary(text);
    }

    private static int[] concat(int[]... parts) {
        return Arrays.stream(parts).flatMapToInt(IntStream::of).toArray();
    }

    @Test
    void aStopStringInsideOneTokenCutsThatToken() {
        String text = "The proliferation of falcons";
        Sent s = run(false, ids(text), List.of("io"));
        assertEquals("The proliferat", s.content());
        assertEquals("The proliferat", s.text());
    }

    @Test
    void aStopStringAcrossTokensSendsNothingFromItsStart() {
        String text = "Hello world, falcons fly over the cliffs";
        assertEquals("Hello worl", run(false, ids(text), List.of("d, f")).content());
        assertEquals("Hello world, falcons fly over the", run(false, ids(text), List.of(" cliffs")).content());
    }

    @Test
    void reasoningIsCutTooAndContentFollowsTheMarker() {
        int[] out = concat(ids("Let me think about it"), new int[] {M.thinkEnd()}, ids("Falcons dive at 300 km/h."));
        Sent whole = run(true, out, List.of());
        assertEquals("Let me think about it", whole.reasoning());
        assertEquals("Falcons dive at 300 km/h.", whole.content());
        // the closing </think> is generated while reasoning, so it counts as a reasoning token
        assertEquals(ids("Let me think about it").length + 1, whole.reasoningTokens());

        Sent inReasoning = run(true, out, List.of("out"));
        assertEquals("Let me think ab", inReasoning.reasoning());
        assertEquals("", inReasoning.content());

        Sent inContent = run(true, out, List.of("300"));
        assertEquals("Let me think about it", inContent.reasoning());
        assertEquals("Falcons dive at ", inContent.content());
    }

    @Test
    void withoutStopStringsEveryTokenPassesAtOnceAndEosEnds() {
        String text = "Peregrines nest on ledges. Ça va? 你好 🦅";
        int[] body = ids(text);
        ChoiceOutput out = new ChoiceOutput(new CountingDecoder(), false, List.of(), new OutputParser(M, false));
        StringBuilder content = new StringBuilder();
        int steps = 0;
        for (int id : body) {
            out.push(id);
            ChoiceOutput.Released r = out.take();
            if (!r.deltas().isEmpty()) {
                steps++;
                content.append(((OutputDelta.Content) r.deltas().getFirst()).text());
            }
        }
        out.finish(M.imEnd(), FinishReason.STOP, true);
        ChoiceOutput.Released last = out.take();
        assertTrue(last.deltas().isEmpty(), last.toString());
        assertEquals(text, content.toString());
        assertTrue(steps >= body.length - 4, "text was held back without a stop string: " + steps + " steps for "
                + body.length + " tokens");
    }

    @Test
    void eachTokenIsDecodedOnceAndTheDeltasRebuildTheOneShotMessage() {
        int[] out = concat(ids("I should call it"), new int[] {M.thinkEnd()}, ids("Checking."),
                new int[] {M.sectionBegin(), M.callBegin()}, ids("functions.get_time:0"), new int[] {M.argumentBegin()},
                ids("{\"tz\": \"Europe/Paris\", \"note\": \"café 🦅\"}"), new int[] {M.callEnd(), M.sectionEnd()});
        CountingDecoder decoder = new CountingDecoder();
        ChoiceOutput choice = new ChoiceOutput(decoder, false, List.of("never"), new OutputParser(M, true));
        MessageAccumulator client = new MessageAccumulator();
        List<Integer> released = new ArrayList<>();
        for (int id : out) {
            assertEquals(null, choice.push(id));
            ChoiceOutput.Released r = choice.take();
            client.applyAll(r.deltas());
            Arrays.stream(r.ids()).forEach(released::add);
        }
        choice.finish(M.imEnd(), FinishReason.STOP, true);
        ChoiceOutput.Released r = choice.take();
        client.applyAll(r.deltas());
        Arrays.stream(r.ids()).forEach(released::add);

        assertEquals(out.length, decoder.reads, "one read of each generated token's bytes, the ending eos none");
        int[] all = concat(out, new int[] {M.imEnd()});
        assertEquals(Arrays.stream(all).boxed().toList(), released, "every id's text is released, in order");
        ParsedMessage oneShot = OutputParser.parse(TOK, M, true, all, OutputFinish.STOP);
        assertEquals(oneShot, client.build(OutputFinish.TOOL_CALLS, false, -1));
    }

    @Test
    void aStopStringInsideToolCallArgumentsCutsTheArgumentsNotTheContent() {
        int[] out = concat(ids("Checking."), new int[] {M.sectionBegin(), M.callBegin()}, ids("functions.f:0"),
                new int[] {M.argumentBegin()}, ids("{\"city\": \"Paris\"}"));
        ChoiceOutput choice = new ChoiceOutput(new CountingDecoder(), false, List.of("ris"), new OutputParser(M, false));
        MessageAccumulator client = new MessageAccumulator();
        String stop = null;
        for (int id : out) {
            stop = choice.push(id);
            client.applyAll(choice.take().deltas());
            if (stop != null) {
                break;
            }
        }
        assertEquals("ris", stop);
        choice.finish(-1, FinishReason.STOP, false);
        client.applyAll(choice.take().deltas());
        ParsedMessage m = client.build(OutputFinish.TOOL_CALLS, false, 0);
        assertEquals("Checking.", m.content());
        assertEquals("{\"city\": \"Pa", m.toolCalls().getFirst().arguments());
    }

    @Test
    void anAbortSendsOnlyWhatWasReleased() {
        ChoiceOutput choice = new ChoiceOutput(new CountingDecoder(), false, List.of("world"), new OutputParser(M, false));
        StringBuilder content = new StringBuilder();
        StringBuilder text = new StringBuilder();
        for (int id : ids("Hello wor")) {
            choice.push(id);
            ChoiceOutput.Released r = choice.take();
            text.append(r.text());
            r.deltas().forEach(d -> content.append(((OutputDelta.Content) d).text()));
        }
        assertEquals("Hello ", text.toString(), "\"wor\" could begin the stop string");
        choice.finish(-1, FinishReason.ABORT, false);
        ChoiceOutput.Released last = choice.take();
        last.deltas().forEach(d -> content.append(((OutputDelta.Content) d).text()));
        assertEquals("", last.text(), "held text that could begin the stop string is never sent");
        assertEquals("Hello ", content.toString(), "the parser gets exactly the released text");
    }

    @Test
    void aCharacterSplitAcrossTokensIsSentWhole() {
        ChoiceOutput out = new ChoiceOutput(new FakeDecoder(), false, List.of(), null);
        out.push(FakeDecoder.EURO_HEAD);
        assertEquals("", out.take().text());
        out.push(FakeDecoder.EURO_TAIL);
        assertEquals("€", out.take().text());
        out.push(FakeDecoder.E_ACUTE_LEAD);
        assertEquals("", out.take().text());
        out.push(FakeDecoder.E_ACUTE_TAIL);
        assertEquals("é", out.take().text());
        out.push(FakeDecoder.EURO);
        assertEquals("€", out.take().text());
    }

    @Test
    void anUnfinishedCharacterAtTheEndBecomesAReplacementCharacter() {
        ChoiceOutput out = new ChoiceOutput(new FakeDecoder(), false, List.of(), null);
        out.push(0);
        out.push(FakeDecoder.EURO_HEAD);
        assertEquals("a", out.take().text());
        out.finish(-1, FinishReason.LENGTH, true);
        assertEquals("\uFFFD", out.take().text());
    }

    @Test
    void aStopStringWithMultiByteCharactersMatchesAcrossSplitBytes() {
        ChoiceOutput out = new ChoiceOutput(new FakeDecoder(), false, List.of("é b"), null);
        out.push(0);
        out.push(FakeDecoder.E_ACUTE_LEAD);
        assertEquals("a", out.take().text());
        out.push(FakeDecoder.E_ACUTE_TAIL);
        assertEquals("", out.take().text(), "é could begin the stop string");
        assertEquals("é b", out.push(27));
        out.finish(-1, FinishReason.STOP, false);
        assertEquals("", out.take().text());
    }

    @Test
    void invalidBytesBecomeReplacementCharacters() {
        TokenDecoder bad = new TokenDecoder() {
            @Override
            public byte[] bytes(int id) {
                return id == 0 ? new byte[] {(byte) 0xFF, 'z'} : "ok".getBytes(StandardCharsets.US_ASCII);
            }

            @Override
            public boolean isSpecial(int id) {
                return false;
            }
        };
        ChoiceOutput out = new ChoiceOutput(bad, false, List.of(), null);
        out.push(0);
        assertEquals("\uFFFDz", out.take().text());
    }
}
