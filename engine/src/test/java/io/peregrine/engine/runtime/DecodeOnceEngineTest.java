package io.peregrine.engine.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.constrain.ToolCallConstraint;
import io.peregrine.engine.constrain.ToolCallRule;
import io.peregrine.engine.parse.MessageAccumulator;
import io.peregrine.engine.parse.OutputParser;
import io.peregrine.engine.parse.ParsedMessage;
import io.peregrine.engine.sample.SamplingParams;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Token ids become text once per choice, in the engine: the decoder reads each generated token's bytes once (an
 * ending eos none), and the typed deltas the events carry rebuild exactly the message a one-shot parse of the ids
 * gives, reasoning token count included.
 */
class DecodeOnceEngineTest {
    static final AtomicInteger READS = new AtomicInteger();
    static ServingEngine engine;

    @BeforeAll
    static void start() {
        TextLovingModel model = new TextLovingModel(ToolCallConstraintEngineTest.M,
                ToolCallConstraintEngineTest.TOK.encodeOrdinary("Sure")[0],
                ToolCallConstraintEngineTest.TOK.encodeOrdinary(ToolCallConstraintEngineTest.ARGS));
        engine = model.serve(new TokenDecoder() {
            @Override
            public byte[] bytes(int id) {
                READS.incrementAndGet();
                return ToolCallConstraintEngineTest.TOK.tokenBytes(id);
            }

            @Override
            public boolean isSpecial(int id) {
                return ToolCallConstraintEngineTest.TOK.isSpecial(id);
            }
        });
    }

    @AfterAll
    static void stop() {
        engine.close();
    }

    private static Recorder run(GenerationRequest r, int n) throws Exception {
        READS.set(0);
        Recorder rec = new Recorder(n);
        engine.submit(r, rec);
        return rec.await();
    }

    @Test
    void eachChoiceDecodesEveryTokenOnceAndItsDeltasAreTheOneShotMessage() throws Exception {
        var M = ToolCallConstraintEngineTest.M;
        SamplingParams p = ToolCallConstraintEngineTest.params(0.8, 3, 2);
        GenerationRequest r = new GenerationRequest("d", ToolCallConstraintEngineTest.prompt(true), p, null)
                .withConstraint(ToolCallConstraint.factory(new ToolCallRule.Named("get_time", 0), M,
                        ToolCallConstraintEngineTest.VOCAB, true))
                .withParser(OutputParser.factory(M, true));
        Recorder rec = run(r, 3);
        int expectedReads = 0;
        for (int c = 0; c < 3; c++) {
            int[] ids = rec.tokens(c);
            boolean endsOnEos = ids.length > 0 && (ids[ids.length - 1] == M.imEnd() || ids[ids.length - 1] == M.eos());
            expectedReads += ids.length - (endsOnEos ? 1 : 0);

            MessageAccumulator client = new MessageAccumulator();
            int reasoning = 0;
            int[] released = new int[0];
            for (EngineEvent e : rec.events()) {
                if (e instanceof EngineEvent.Tokens t && t.choice() == c) {
                    client.applyAll(t.output());
                    reasoning += t.reasoningTokens();
                    released = IntStream.concat(IntStream.of(released), IntStream.of(t.outputIds())).toArray();
                }
            }
            FinishReason reason = rec.finished(c).reason();
            ParsedMessage oneShot = OutputParser.parse(ToolCallConstraintEngineTest.TOK, M, true, ids,
                    reason.outputFinish());
            assertFalse(oneShot.toolCalls().isEmpty(), "the constraint makes a call: " + oneShot);
            assertEquals(oneShot, client.build(oneShot.finish(), oneShot.truncatedInReasoning(),
                    oneShot.toolCalls().stream().filter(tc -> !tc.complete()).mapToInt(tc -> tc.index()).findFirst()
                            .orElse(-1)));
            assertArrayEquals(ids, released, "without stop strings every sampled id is released at once");
            OutputParser counter = new OutputParser(ToolCallConstraintEngineTest.TOK, M, true);
            int expectedReasoning = 0;
            for (int id : ids) {
                expectedReasoning += counter.inReasoning() ? 1 : 0;
                counter.push(id);
            }
            assertEquals(expectedReasoning, reasoning);
        }
        assertEquals(expectedReads, READS.get(), "one decode per generated token, the ending eos none");
    }

    @Test
    void aStopStringCutsTheTextAndTheDeltasAlikeWithOneDecodePerToken() throws Exception {
        SamplingParams p = new SamplingParams(0.0, 1.0, 0, 0.0, 0.0, 0.0, 1.0, 7L, 30, List.of("eSu"), List.of(),
                false, -1, 1);
        GenerationRequest r = new GenerationRequest("s", ToolCallConstraintEngineTest.prompt(false), p, null)
                .withParser(OutputParser.factory(ToolCallConstraintEngineTest.M, false));
        Recorder rec = run(r, 1);
        assertEquals(new StopReason.StopString("eSu"), rec.finished(0).stopReason());
        assertEquals("Sur", rec.text(0));
        StringBuilder content = new StringBuilder();
        for (EngineEvent e : rec.events()) {
            if (e instanceof EngineEvent.Tokens t) {
                t.output().forEach(d -> content.append(((io.peregrine.engine.parse.OutputDelta.Content) d).text()));
            }
        }
        assertEquals("Sur", content.toString());
        assertEquals(rec.tokens(0).length, READS.get());
        assertTrue(rec.tokens(0).length >= 2);
    }
}
