package io.peregrine.engine.constrain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.parse.MarkerIds;
import io.peregrine.engine.runtime.TokenConstraint;
import io.peregrine.engine.tokenizer.KimiTokenizer;
import io.peregrine.engine.tokenizer.Tokenizers;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The tool-call constraint on its own: masks against the real Kimi vocabulary, walked token by token. */
class ToolCallConstraintTest {
    static final KimiTokenizer TOK = Tokenizers.bundled();
    static final MarkerIds M = MarkerIds.from(TOK);
    static final TokenBytesIndex VOCAB = TokenBytesIndex.of(TOK::tokenBytes, TOK.numRegularTokens());

    static List<Integer> allowed(TokenConstraint c) {
        float[] l = new float[TOK.vocabSize()];
        c.mask(l);
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < l.length; i++) {
            if (l[i] != Float.NEGATIVE_INFINITY) {
                ids.add(i);
            }
        }
        return ids;
    }

    @Test
    void anyTokenisationOfTheNamedIdIsAllowedAndNothingElse() {
        String id = "functions.get_time:12";
        TokenConstraint c = ToolCallConstraint.factory(new ToolCallRule.Named("get_time", 12), M, VOCAB, false)
                .forChoice(0);
        assertEquals(List.of(M.sectionBegin()), allowed(c));
        c.accept(M.sectionBegin());
        assertEquals(List.of(M.callBegin()), allowed(c));
        c.accept(M.callBegin());
        // walk the id in single-byte tokens: every step must allow the next byte's token, and every allowed
        // token must keep the text a prefix of the id
        byte[] want = id.getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < want.length; i++) {
            String done = id.substring(0, i);
            List<Integer> ids = allowed(c);
            assertTrue(!ids.contains(M.argumentBegin()), "argument marker before the id is whole at " + done);
            for (int t : ids) {
                String s = done + new String(TOK.tokenBytes(t), StandardCharsets.UTF_8);
                assertTrue(id.startsWith(s), "token '" + s + "' leaves the id");
            }
            int one = TOK.encodeOrdinary(id.substring(i, i + 1))[0];
            assertTrue(ids.contains(one), "single byte '" + id.charAt(i) + "' not allowed after " + done);
            c.accept(one);
        }
        assertEquals(List.of(M.argumentBegin()), allowed(c));
        // the tokenizer's own split of the id is allowed too
        TokenConstraint d = ToolCallConstraint.factory(new ToolCallRule.Named("get_time", 12), M, VOCAB, false)
                .forChoice(0);
        d.accept(M.sectionBegin());
        d.accept(M.callBegin());
        for (int t : TOK.encodeOrdinary(id)) {
            assertTrue(allowed(d).contains(t));
            d.accept(t);
        }
        d.accept(M.argumentBegin());
        List<Integer> args = allowed(d);
        assertTrue(!args.contains(M.callEnd()) && !args.contains(M.imEnd()) && !args.contains(M.sectionEnd()),
                "the arguments are a JSON object: no end before it is whole");
        assertTrue(args.contains(TOK.encodeOrdinary("{")[0]) && !args.contains(TOK.encodeOrdinary("[")[0]));
        for (int t : TOK.encodeOrdinary("{\"a\": [1]}")) {
            assertTrue(allowed(d).contains(t));
            d.accept(t);
        }
        assertTrue(allowed(d).contains(M.callEnd()));
        d.accept(M.callEnd());
        assertEquals(List.of(M.sectionEnd()), allowed(d));
        d.accept(M.sectionEnd());
        assertEquals(List.of(M.imEnd()), allowed(d));
        d.accept(M.imEnd());
    }

    @Test
    void requiredAllowsDeclaredNamesOnlyAndNoEndBeforeACall() {
        TokenConstraint c = ToolCallConstraint.factory(new ToolCallRule.Required(List.of("a.b", "get"), true,
                java.util.Set.of(), 7), M, VOCAB, true).forChoice(0);
        List<Integer> reasoning = allowed(c);
        assertTrue(reasoning.contains(TOK.encodeOrdinary("Hi")[0]) && reasoning.contains(M.thinkEnd()));
        assertTrue(!reasoning.contains(M.imEnd()) && !reasoning.contains(M.eos()));
        c.accept(M.thinkEnd());
        assertEquals(List.of(M.sectionBegin()), allowed(c));
        c.accept(M.sectionBegin());
        c.accept(M.callBegin());
        for (int t : TOK.encodeOrdinary("functions.")) {
            c.accept(t);
        }
        for (int t : allowed(c)) {
            String s = new String(TOK.tokenBytes(t), StandardCharsets.UTF_8);
            assertTrue("a.b:".startsWith(s) || "get:".startsWith(s) || s.startsWith("a.b:") || s.startsWith("get:"), s);
        }
        for (int t : TOK.encodeOrdinary("get:")) {
            c.accept(t);
        }
        assertTrue(!allowed(c).contains(M.argumentBegin()), "the index first");
        assertEquals(List.of(TOK.encodeOrdinary("7")[0]), allowed(c), "the conversation's next index, only");
        c.accept(TOK.encodeOrdinary("7")[0]);
        assertTrue(allowed(c).contains(M.argumentBegin()));
        c.accept(M.argumentBegin());
        for (int t : TOK.encodeOrdinary("{}")) {
            c.accept(t);
        }
        c.accept(M.callEnd());
        assertEquals(java.util.Set.of(M.callBegin(), M.sectionEnd()), java.util.Set.copyOf(allowed(c)));
        assertThrows(IllegalStateException.class, () -> c.accept(M.imEnd()), "not allowed before the section end");
        c.accept(M.callBegin());
        for (int t : TOK.encodeOrdinary("functions.a.b:8")) {
            assertTrue(allowed(c).contains(t), "the second call is number 8");
            c.accept(t);
        }
        assertTrue(allowed(c).contains(M.argumentBegin()));
    }

    @Test
    void aMaskedTokenIsNeverDrawn() {
        // random logits, random sampling settings: the sampler must only return tokens the mask left open
        io.peregrine.engine.sample.Sampler sampler = new io.peregrine.engine.sample.Sampler();
        SplittableRandom r = new SplittableRandom(3);
        for (int trial = 0; trial < 200; trial++) {
            float[] l = new float[512];
            for (int i = 0; i < l.length; i++) {
                l[i] = r.nextInt(4) == 0 ? Float.NEGATIVE_INFINITY : (float) r.nextGaussian() * 3;
            }
            l[r.nextInt(512)] = 1f;
            var p = new io.peregrine.engine.sample.SamplingParams(0.2 + r.nextDouble() * 2, 0.5 + r.nextDouble() / 2,
                    r.nextInt(3) * 20, r.nextBoolean() ? 0.0 : 0.05, 0, 0, 1.0, null, 1, List.of(), List.of(), false,
                    -1, 1);
            int t = sampler.sample(l, p, null, r);
            assertTrue(l[t] != Float.NEGATIVE_INFINITY, "drew masked token " + t);
            // the top of the unit interval, where rounding can fall through to the fallback
            l[511] = Float.NEGATIVE_INFINITY;
            int top = sampler.sample(l, p, null, new java.util.random.RandomGenerator() {
                @Override
                public long nextLong() {
                    return -1L;
                }

                @Override
                public double nextDouble() {
                    return Math.nextDown(1.0);
                }
            });
            assertTrue(l[top] != Float.NEGATIVE_INFINITY, "drew masked token " + top);
        }
    }

    @Test
    void aParameterlessFunctionGetsEmptyArgumentsForced() {
        TokenConstraint c = ToolCallConstraint.factory(new ToolCallRule.Named("now", 0, true), M, VOCAB, false)
                .forChoice(0);
        c.accept(M.sectionBegin());
        c.accept(M.callBegin());
        for (int t : TOK.encodeOrdinary("functions.now:0")) {
            c.accept(t);
        }
        c.accept(M.argumentBegin());
        List<Integer> first = allowed(c);
        assertTrue(first.contains(TOK.encodeOrdinary("{")[0]));
        for (int t : first) {
            assertTrue("{}".startsWith(new String(TOK.tokenBytes(t), StandardCharsets.UTF_8)), "" + t);
        }
        c.accept(TOK.encodeOrdinary("{")[0]);
        assertThrows(IllegalStateException.class, () -> c.accept(M.callEnd()), "the object is not closed yet");
    }

    @Test
    void aParameterlessFunctionClosesItsObjectThenTheCall() {
        TokenConstraint c = ToolCallConstraint.factory(new ToolCallRule.Named("now", 0, true), M, VOCAB, false)
                .forChoice(0);
        c.accept(M.sectionBegin());
        c.accept(M.callBegin());
        for (int t : TOK.encodeOrdinary("functions.now:0")) {
            c.accept(t);
        }
        c.accept(M.argumentBegin());
        c.accept(TOK.encodeOrdinary("{")[0]);
        assertEquals(List.of(TOK.encodeOrdinary("}")[0]), allowed(c));
        c.accept(TOK.encodeOrdinary("}")[0]);
        assertEquals(List.of(M.callEnd()), allowed(c));
    }

    static final io.peregrine.engine.constrain.json.JsonGrammar UNIT;

    static {
        try {
            UNIT = io.peregrine.engine.constrain.json.JsonGrammar.compile(new com.fasterxml.jackson.databind.ObjectMapper()
                    .readTree("{\"type\":\"object\",\"properties\":{\"unit\":{\"enum\":[\"C\",\"F\"]}},"
                            + "\"required\":[\"unit\"],\"additionalProperties\":false}"), true);
        } catch (Exception e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    static void feed(TokenConstraint c, String text) {
        for (int t : TOK.encodeOrdinary(text)) {
            assertTrue(allowed(c).contains(t), "token '" + new String(TOK.tokenBytes(t), StandardCharsets.UTF_8)
                    + "' of " + text);
            c.accept(t);
        }
    }

    @Test
    void responseFormatInThinkingModeConstrainsOnlyAfterTheThinking() {
        TokenConstraint c = ToolCallConstraint.factory(new ToolCallRule.Auto(List.of(), false, java.util.Set.of(), 0),
                new OutputGrammars(UNIT, java.util.Map.of()), M, VOCAB, true).forChoice(0);
        List<Integer> reasoning = allowed(c);
        assertTrue(reasoning.contains(TOK.encodeOrdinary("Hi")[0]) && reasoning.contains(M.thinkEnd()));
        assertTrue(!reasoning.contains(M.imEnd()) && !reasoning.contains(M.eos()), "the answer must come");
        assertTrue(!reasoning.contains(M.sectionBegin()), "no tools declared");
        feed(c, "Let me think { not json");
        c.accept(M.thinkEnd());
        List<Integer> first = allowed(c);
        assertTrue(first.contains(TOK.encodeOrdinary("{")[0]));
        assertTrue(!first.contains(M.imEnd()) && !first.contains(TOK.encodeOrdinary("Hi")[0])
                && !first.contains(TOK.encodeOrdinary(" ")[0]), "JSON right away");
        feed(c, "{\"unit\": \"");
        for (int t : allowed(c)) {
            String tok = new String(TOK.tokenBytes(t), StandardCharsets.UTF_8);
            assertTrue("C\"}".startsWith(tok) || "F\"}".startsWith(tok), "only the enum: " + tok);
        }
        feed(c, "F\"}");
        assertEquals(List.of(M.imEnd()), allowed(c));
        c.accept(M.imEnd());
    }

    @Test
    void autoMayAnswerInTextOrOpenTheSectionButACallFollowsTheRules() {
        TokenConstraint c = ToolCallConstraint.factory(new ToolCallRule.Auto(List.of("get_unit", "now"), false,
                java.util.Set.of("now"), 4), new OutputGrammars(null, java.util.Map.of("get_unit", UNIT)), M, VOCAB,
                false).forChoice(0);
        List<Integer> first = allowed(c);
        assertTrue(first.contains(TOK.encodeOrdinary("Hi")[0]) && first.contains(M.imEnd())
                && first.contains(M.sectionBegin()));
        assertTrue(!first.contains(M.callBegin()) && !first.contains(M.callEnd()), "no stray markers");
        feed(c, "Checking.");
        c.accept(M.sectionBegin());
        assertEquals(List.of(M.callBegin()), allowed(c));
        c.accept(M.callBegin());
        feed(c, "functions.get_unit:4");
        c.accept(M.argumentBegin());
        assertTrue(!allowed(c).contains(M.callEnd()));
        feed(c, "{\"");
        int city = TOK.encodeOrdinary("city")[0];
        assertTrue(!allowed(c).contains(city), "not a property of the schema");
        assertThrows(IllegalStateException.class, () -> c.accept(city));
        feed(c, "unit\":\"C\"}");
        c.accept(M.callEnd());
        assertEquals(List.of(M.sectionEnd()), allowed(c));
    }

    @Test
    void autoWithAResponseFormatMayStillCallBeforeTheAnswerStarts() {
        TokenConstraint c = ToolCallConstraint.factory(new ToolCallRule.Auto(List.of("now"), false,
                java.util.Set.of("now"), 0), new OutputGrammars(UNIT, java.util.Map.of()), M, VOCAB, false).forChoice(0);
        assertTrue(allowed(c).contains(M.sectionBegin()) && allowed(c).contains(TOK.encodeOrdinary("{")[0]));
        TokenConstraint d = ToolCallConstraint.factory(new ToolCallRule.Auto(List.of("now"), false,
                java.util.Set.of("now"), 0), new OutputGrammars(UNIT, java.util.Map.of()), M, VOCAB, false).forChoice(0);
        feed(d, "{");
        assertTrue(!allowed(d).contains(M.sectionBegin()), "the JSON answer has started");
        c.accept(M.sectionBegin());
        c.accept(M.callBegin());
        feed(c, "functions.now:0");
        c.accept(M.argumentBegin());
        feed(c, "{}");
        assertEquals(List.of(M.callEnd()), allowed(c));
        c.accept(M.callEnd());
        assertEquals(List.of(M.sectionEnd()), allowed(c), "parallel_tool_calls false");
    }

    @Test
    void aCopyGoesOnAloneFromTheSameStateAndTheOriginalIsUntouched() {
        // the speculative-decoding use: advance a copy over draft tokens mid-name and mid-arguments
        TokenConstraint c = ToolCallConstraint.factory(new ToolCallRule.Required(List.of("get_unit", "now"), true,
                java.util.Set.of(), 3), new OutputGrammars(null, java.util.Map.of("get_unit", UNIT)), M, VOCAB, false)
                .forChoice(0);
        c.accept(M.sectionBegin());
        c.accept(M.callBegin());
        feed(c, "functions.get_");
        List<Integer> before = allowed(c);
        TokenConstraint copy = c.copy();
        assertEquals(before, allowed(copy));
        feed(copy, "unit:3");
        copy.accept(M.argumentBegin());
        feed(copy, "{\"unit\": \"C");
        assertEquals(before, allowed(c), "advancing the copy moved the original");
        // the original takes another path from the same state; the copy's own goes on unchanged
        TokenConstraint second = c.copy();
        feed(c, "unit:3");
        c.accept(M.argumentBegin());
        feed(c, "{\"unit\": \"F\"}");
        c.accept(M.callEnd());
        feed(copy, "\"}");
        assertTrue(allowed(copy).contains(M.callEnd()));
        assertEquals(before, allowed(second));
        // a copy of a ThinkingBudget keeps the count spent so far
        TokenConstraint budget = ThinkingBudget.factory(M, 2).forChoice(0);
        budget.accept(TOK.encodeOrdinary("a")[0]);
        TokenConstraint ahead = budget.copy();
        ahead.accept(TOK.encodeOrdinary("b")[0]);
        assertEquals(List.of(M.thinkEnd()), allowed(ahead));
        assertTrue(allowed(budget).size() > 1, "the original spent only one token");
    }
}
