package io.peregrine.engine.runtime;

import io.peregrine.engine.sched.Sequence;
import io.peregrine.engine.sched.SequenceStatus;
import io.peregrine.engine.spec.Drafter;
import java.util.Collection;

/**
 * Before each step, gives every choice that decodes next and may speculate up to k draft tokens from its drafter;
 * the step verifies them ({@link StepOutputs}). A choice speculates only when speculation cannot change what it
 * would emit: no token constraint (structured output, tool calls, thinking budgets are constraints) and no
 * penalty (its token counts would take the tokens of rejected rows), and not before its first token (the first
 * token's row is where an {@code n > 1} request forks its other choices).
 */
final class Speculator {
    private final Drafter drafter;
    private final int k;
    private final int[] draft;

    Speculator(Drafter drafter, int k) {
        this.drafter = java.util.Objects.requireNonNull(drafter);
        this.k = k;
        this.draft = new int[k];
    }

    void propose(Collection<Choice> choices) {
        for (Choice c : choices) {
            Sequence s = c.sequence;
            if (c.done || c.admission.ended || c.constraint != null || c.admission.request.sampling().rule().penalised()
                    || s.status() != SequenceStatus.RUNNING || s.uncomputed() != 1 || s.drafts() != 0
                    || s.generated() == 0) {
                continue;
            }
            // never draft past max_tokens: the step emits at most drafts + 1 tokens
            int max = Math.min(k, c.admission.request.sampling().maxTokens() - s.generated() - 1);
            int n = drafter.propose(s.id(), s.tokenArray(), s.promptLength(), s.length(), max, draft);
            if (n > 0) {
                s.propose(draft, n);
            }
        }
    }

    /** The sequence ended: its drafter forgets it (and may learn its output). */
    void finished(Sequence s) {
        // a step that failed may leave its drafts in the sequence: they are not output
        drafter.finished(s.id(), s.tokenArray(), s.promptLength(), s.length() - s.drafts());
    }
}
