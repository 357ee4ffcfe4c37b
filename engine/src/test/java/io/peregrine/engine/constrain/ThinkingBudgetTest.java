package io.peregrine.engine.constrain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.parse.MarkerIds;
import io.peregrine.engine.runtime.TokenConstraint;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The thinking budget alone and chained with a tool-call constraint, and the single-call rule, against the real
 * Kimi marker ids.
 */
class ThinkingBudgetTest {
    private static final MarkerIds M = ToolCallConstraintTest.M;
    private static final int VOCAB = ToolCallConstraintTest.TOK.vocabSize();

    private static List<Integer> allowed(TokenConstraint c) {
        float[] l = new float[VOCAB];
        c.mask(l);
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < l.length; i++) {
            if (l[i] != Float.NEGATIVE_INFINITY) {
                out.add(i);
            }
        }
        return out;
    }

    @Test
    void afterTheBudgetOnlyTheEndOfThinkingMayFollowThenAnything() {
        TokenConstraint c = ThinkingBudget.factory(M, 3).forChoice(0);
        for (int i = 0; i < 3; i++) {
            assertEquals(VOCAB, allowed(c).size(), "token " + i + " is free");
            c.accept(100 + i);
        }
        assertEquals(List.of(M.thinkEnd()), allowed(c));
        assertThrows(IllegalStateException.class, () -> c.accept(100));
        TokenConstraint d = ThinkingBudget.factory(M, 3).forChoice(0);
        for (int i = 0; i < 3; i++) {
            d.accept(7);
        }
        d.accept(M.thinkEnd());
        assertEquals(VOCAB, allowed(d).size(), "the answer is not constrained");
        d.accept(5);
        assertEquals(VOCAB, allowed(d).size());
    }

    @Test
    void reasoningThatEndsEarlyIsNeverForced() {
        for (int end : new int[] {M.thinkEnd(), M.sectionBegin()}) {
            TokenConstraint c = ThinkingBudget.factory(M, 2).forChoice(0);
            c.accept(11);
            c.accept(end);
            for (int i = 0; i < 5; i++) {
                assertEquals(VOCAB, allowed(c).size());
                c.accept(12);
            }
        }
        assertThrows(IllegalArgumentException.class, () -> ThinkingBudget.factory(M, 0));
    }

    @Test
    void chainedWithARequiredToolCallTheBudgetEndsReasoningAndTheCallFollows() {
        TokenConstraint.Factory tool = ToolCallConstraint.factory(new ToolCallRule.Named("get_time", 0, true), M,
                ToolCallConstraintTest.VOCAB, true);
        TokenConstraint c = ConstraintChain.of(tool, ThinkingBudget.factory(M, 4)).forChoice(0);
        Random random = new Random(5);
        List<Integer> out = new ArrayList<>();
        for (int step = 0; step < 64 && (out.isEmpty() || out.getLast() != M.imEnd()); step++) {
            List<Integer> ok = allowed(c);
            assertTrue(!ok.isEmpty(), "a token is always allowed");
            int t = ok.get(random.nextInt(ok.size()));
            c.accept(t);
            out.add(t);
        }
        assertEquals(M.thinkEnd(), out.get(4), "reasoning ends after exactly the budget: " + out);
        assertEquals(M.sectionBegin(), out.get(5), "then the forced call: " + out);
        assertEquals(M.imEnd(), out.getLast(), out.toString());
        assertEquals(null, ConstraintChain.of(null, null));
        assertEquals(tool, ConstraintChain.of(tool, null));
    }
}
