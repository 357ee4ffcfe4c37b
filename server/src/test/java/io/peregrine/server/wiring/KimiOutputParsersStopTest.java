package io.peregrine.server.wiring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.sample.StopStrings;
import io.peregrine.engine.tokenizer.KimiTokenizer;
import io.peregrine.server.chat.OutputParser;
import io.peregrine.server.chat.OutputSpec;
import io.peregrine.server.chat.ParsedDelta;
import io.peregrine.server.chat.ThinkingMode;
import io.peregrine.server.chat.ToolChoice;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The Kimi parser decodes token ids itself, so it must still send only what the engine released: text held back
 * as a possible stop-string start, and nothing from a stop string on, even inside a token. The engine side is
 * simulated with its own {@link StopStrings}, token by token, as the engine's choice does.
 */
class KimiOutputParsersStopTest {
    private static KimiTokenizer tokenizer;
    private static KimiOutputParsers parsers;

    @BeforeAll
    static void load() {
        tokenizer = KimiTokenizer.bundled();
        parsers = new KimiOutputParsers(tokenizer);
    }

    /** Reasoning and content as a client receives them, streamed delta by delta. */
    private record Sent(String reasoning, String content, int reasoningTokens, int stepsWithContent) {}

    private static Sent run(boolean thinking, int[] ids, List<String> stops) {
        OutputParser parser = parsers.create(new OutputSpec(thinking ? ThinkingMode.ENABLED : ThinkingMode.DISABLED, List.of(),
                ToolChoice.NONE, true, 0));
        StopStrings engine = new StopStrings(stops);
        StringBuilder reasoning = new StringBuilder();
        StringBuilder content = new StringBuilder();
        int reasoningTokens = 0;
        int steps = 0;
        List<ParsedDelta> deltas = new ArrayList<>();
        for (int id : ids) {
            StopStrings.Release r = engine.push(tokenizer.tokenBytes(id));
            deltas.add(parser.accept(new int[] {id}, r.text()));
            if (r.stop() != null) {
                break;
            }
        }
        deltas.add(parser.finish());
        for (ParsedDelta d : deltas) {
            if (d.reasoning() != null) {
                reasoning.append(d.reasoning());
            }
            if (d.content() != null && !d.content().isEmpty()) {
                content.append(d.content());
                steps++;
            }
            reasoningTokens += d.reasoningTokens();
        }
        return new Sent(reasoning.toString(), content.toString(), reasoningTokens, steps);
    }

    private static int[] ids(String text) {
        return tokenizer.encodeOrdinary(text);
    }

    private static int[] concat(int[]... parts) {
        return Arrays.stream(parts).flatMapToInt(IntStream::of).toArray();
    }

    @Test
    void aStopStringInsideOneTokenCutsThatToken() {
        String text = "The proliferation of falcons";
        Sent s = run(false, ids(text), List.of("io"));
        assertEquals("The proliferat", s.content());
    }

    @Test
    void aStopStringAcrossTokensSendsNothingFromItsStart() {
        String text = "Hello world, falcons fly over the cliffs";
        assertEquals("Hello worl", run(false, ids(text), List.of("d, f")).content());
        assertEquals("Hello world, falcons fly over the", run(false, ids(text), List.of(" cliffs")).content());
    }

    @Test
    void reasoningIsCutTooAndContentFollowsTheMarker() {
        int endThink = tokenizer.requireSpecialId("</think>");
        int[] out = concat(ids("Let me think about it"), new int[] {endThink}, ids("Falcons dive at 300 km/h."));
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
        int imEnd = tokenizer.requireSpecialId("<|im_end|>");
        String text = "Peregrines nest on ledges. Ça va? 你好 🦅";
        int[] body = ids(text);
        Sent s = run(false, concat(body, new int[] {imEnd}), List.of());
        assertEquals(text, s.content());
        assertTrue(s.stepsWithContent() >= body.length - 4, "text was held back without a stop string: "
                + s.stepsWithContent() + " steps for " + body.length + " tokens");
    }
}
