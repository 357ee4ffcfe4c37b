package io.peregrine.engine.runtime;

import io.peregrine.engine.constrain.TokenBytesIndex;
import io.peregrine.engine.constrain.ToolCallConstraint;
import io.peregrine.engine.constrain.ToolCallRule;
import io.peregrine.engine.parse.MarkerIds;
import io.peregrine.engine.parse.OutputFinish;
import io.peregrine.engine.parse.OutputParser;
import io.peregrine.engine.parse.ParsedMessage;
import io.peregrine.engine.parse.ParsedToolCall;
import io.peregrine.engine.sample.SamplingParams;
import io.peregrine.engine.sample.TokenLogprob;
import io.peregrine.engine.tokenizer.KimiTokenizer;
import io.peregrine.engine.tokenizer.Tokenizers;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * tool_choice named / required through the serving engine, over a model that would rather answer in plain text:
 * the unconstrained run makes no call, the constrained runs must parse (engine {@link OutputParser}) to the
 * calls the rule asks for, in instant and thinking mode, with n = 2, and with logprobs of what was sampled.
 */
class ToolCallConstraintEngineTest {
    static final KimiTokenizer TOK = Tokenizers.bundled();
    static final MarkerIds M = MarkerIds.from(TOK);
    static final TokenBytesIndex VOCAB = TokenBytesIndex.of(TOK::tokenBytes, TOK.numRegularTokens());
    static final List<String> TOOLS = List.of("get_weather", "get_time", "search.web");
    static final String ARGS = "{\"city\": \"Paris\"}";

    static ServingEngine engine;

    @BeforeAll
    static void start() {
        TextLovingModel model = new TextLovingModel(M, TOK.encodeOrdinary("Sure")[0], TOK.encodeOrdinary(ARGS));
        engine = model.serve(TOK);
    }

    @AfterAll
    static void stop() {
        engine.close();
    }

    static int[] prompt(boolean thinking) {
        int[] text = TOK.encodeOrdinary("What is the weather in Paris?");
        int[] p = java.util.Arrays.copyOf(text, text.length + (thinking ? 1 : 0));
        if (thinking) {
            p[text.length] = M.thinkBegin();
        }
        return p;
    }

    static SamplingParams params(double temperature, int n, int logprobs) {
        return new SamplingParams(temperature, 1.0, 0, 0.0, 0.0, 0.0, 1.0, 7L, 200, List.of(), List.of(), false,
                logprobs, n);
    }

    static Recorder run(boolean thinking, ToolCallRule rule, SamplingParams p) throws Exception {
        GenerationRequest r = new GenerationRequest("t", prompt(thinking), p, null);
        if (rule != null) {
            r = r.withConstraint(ToolCallConstraint.factory(rule, M, VOCAB, thinking));
        }
        Recorder rec = new Recorder(p.n());
        engine.submit(r, rec);
        return rec.await();
    }

    static ParsedMessage parsed(Recorder rec, int choice, boolean thinking) {
        return OutputParser.parse(TOK, M, thinking, rec.tokens(choice), rec.finished(choice).reason().outputFinish());
    }

    @Test
    void withoutAConstraintTheModelAnswersInPlainText() throws Exception {
        for (boolean thinking : new boolean[] {false, true}) {
            Recorder rec = run(thinking, null, params(0, 1, -1));
            ParsedMessage msg = parsed(rec, 0, thinking);
            assertTrue(msg.toolCalls().isEmpty(), "the model must prefer text, or the constraint tests prove nothing");
            assertTrue(msg.content().contains("Sure"), msg.content());
            assertEquals(FinishReason.LENGTH, rec.finished(0).reason());
        }
    }

    @Test
    void namedFunctionGivesExactlyThatCallWithTheConversationsId() throws Exception {
        for (boolean thinking : new boolean[] {false, true}) {
            Recorder rec = run(thinking, new ToolCallRule.Named("get_time", 3), params(0, 1, -1));
            ParsedMessage msg = parsed(rec, 0, thinking);
            assertEquals(FinishReason.STOP, rec.finished(0).reason());
            assertEquals(OutputFinish.TOOL_CALLS, msg.finish());
            assertEquals(1, msg.toolCalls().size(), msg.toString());
            ParsedToolCall call = msg.toolCalls().getFirst();
            assertEquals("get_time", call.name());
            assertEquals("functions.get_time:3", call.id());
            assertEquals(ARGS, call.arguments());
            assertTrue(call.complete());
            assertEquals(M.imEnd(), rec.tokens(0)[rec.tokens(0).length - 1]);
            if (thinking) {
                assertNotNull(msg.reasoning(), "thinking mode reasons before the forced call: " + msg);
            } else {
                assertEquals(M.sectionBegin(), rec.tokens(0)[0], "instant mode calls at once");
            }
        }
    }

    @Test
    void requiredCallsOnlyDeclaredFunctionsInEveryChoice() throws Exception {
        for (boolean thinking : new boolean[] {false, true}) {
            for (boolean parallel : new boolean[] {false, true}) {
                Recorder rec = run(thinking, new ToolCallRule.Required(TOOLS, parallel, Set.of(), 5),
                        params(1.0, 2, -1));
                for (int c = 0; c < 2; c++) {
                    ParsedMessage msg = parsed(rec, c, thinking);
                    assertEquals(OutputFinish.TOOL_CALLS, msg.finish(), msg.toString());
                    assertFalse(msg.toolCalls().isEmpty());
                    if (!parallel) {
                        assertEquals(1, msg.toolCalls().size(), msg.toString());
                    }
                    assertTrue(msg.content() == null || msg.content().isBlank(), "no plain-text answer: " + msg);
                    for (ParsedToolCall call : msg.toolCalls()) {
                        assertTrue(TOOLS.contains(call.name()), call.toString());
                        // ids count on from the 5 calls already in the conversation
                        assertEquals("functions." + call.name() + ":" + (5 + call.index()), call.id());
                        assertTrue(call.complete());
                    }
                }
            }
        }
    }

    @Test
    void logprobsDescribeTheConstrainedDistribution() throws Exception {
        Recorder rec = run(true, new ToolCallRule.Named("get_weather", 0), params(0, 1, 3));
        int[] toks = rec.tokens(0);
        List<TokenLogprob> lps = rec.events().stream()
                .filter(e -> e instanceof EngineEvent.Tokens t && t.tokenIds().length > 0)
                .flatMap(e -> ((EngineEvent.Tokens) e).logprobs().stream()).toList();
        assertEquals(toks.length, lps.size());
        Set<Integer> forced = Set.of(M.sectionBegin(), M.callBegin(), M.sectionEnd(), M.imEnd());
        boolean afterThink = false;
        for (int i = 0; i < toks.length; i++) {
            TokenLogprob lp = lps.get(i);
            assertEquals(toks[i], lp.tokenId());
            assertTrue(Float.isFinite(lp.logprob()) && lp.logprob() <= 0, lp.toString());
            assertEquals(toks[i], lp.top().getFirst().tokenId(), "greedy picks the most likely allowed token");
            for (TokenLogprob.Alternative a : lp.top()) {
                assertTrue(Float.isFinite(a.logprob()), "masked tokens are no alternatives: " + lp);
            }
            if (afterThink && forced.contains(toks[i])) {
                assertEquals(0f, lp.logprob(), 1e-6f, "a forced token has probability 1: " + lp);
                assertEquals(1, lp.top().size(), lp.toString());
            }
            afterThink |= toks[i] == M.thinkEnd();
        }
        assertTrue(afterThink);
    }
}
