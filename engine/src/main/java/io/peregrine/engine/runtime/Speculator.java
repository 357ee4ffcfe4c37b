package io.peregrine.engine.runtime;

import io.peregrine.engine.backend.TokenCounts;
import io.peregrine.engine.sample.SamplingBatch;
import io.peregrine.engine.sched.Sequence;
import io.peregrine.engine.sched.SequenceStatus;
import io.peregrine.engine.spec.Drafter;
import java.util.Collection;

/**
 * Before each step, gives every choice that decodes next up to k draft tokens from its drafter; the step verifies
 * them ({@link StepOutputs}). Not before a choice's first token (the first token's row is where an {@code n > 1}
 * request forks its other choices). Each verified position samples exactly as plain decoding would sample there:
 * <ul>
 * <li>a constrained choice (structured output, tool calls, thinking budgets) keeps its drafts only up to the first
 * one its constraint forbids, which is thereby rejected, never emitted: a copy of the constraint is advanced over
 * the drafts and masks each position ({@link Choice#draftMasks});</li>
 * <li>a penalised choice samples each position with counts that have seen the drafts before it
 * ({@link Choice#draftCounts}), so a row past a rejection never touches the counts it keeps.</li>
 * </ul>
 * A constraint that cannot be copied or counts the host cannot extend (a device backend's) keep the choice from
 * speculating.
 */
final class Speculator {
    private static final System.Logger LOG = System.getLogger(Speculator.class.getName());
    private final Drafter drafter;
    private final int k;
    private final int[] draft;
    private final ConstraintMasks masks;

    Speculator(Drafter drafter, int k, int vocab) {
        this.drafter = java.util.Objects.requireNonNull(drafter);
        this.k = k;
        this.draft = new int[k];
        this.masks = new ConstraintMasks(vocab);
    }

    void propose(Collection<Choice> choices) {
        for (Choice c : choices) {
            Sequence s = c.sequence;
            if (c.done || c.admission.ended || s.status() != SequenceStatus.RUNNING || s.uncomputed() != 1
                    || s.drafts() != 0 || s.generated() == 0) {
                continue;
            }
            // never draft past max_tokens: the step emits at most drafts + 1 tokens
            int max = Math.min(k, c.admission.request.sampling().maxTokens() - s.generated() - 1);
            int n;
            try {
                n = drafter.propose(s.id(), s.tokenArray(), s.promptLength(), s.length(), max, draft);
            } catch (RuntimeException e) {
                // a drafter's bug costs its speedup, never a request: the choice decodes one token
                LOG.log(System.Logger.Level.ERROR, "drafter failed; decoding without drafts", e);
                continue;
            }
            if (n > 0 && c.constraint != null) {
                n = allowedPrefix(c, n);
            }
            if (n > 0 && c.admission.request.sampling().rule().penalised()) {
                n = countDrafts(c, n);
            }
            if (n > 0) {
                s.propose(draft, n);
            }
        }
    }

    /** The sequence ended: its drafter forgets it (and may learn its output). */
    void finished(Sequence s) {
        // a step that failed may leave its drafts in the sequence: they are not output
        try {
            drafter.finished(s.id(), s.tokenArray(), s.promptLength(), s.length() - s.drafts());
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.ERROR, "drafter failed to retire sequence " + s.id(), e);
        }
    }

    /**
     * How many of the {@code n} drafts the constraint allows in a row, with the masks of positions {@code 0 .. }
     * that many in {@link Choice#draftMasks}; 0 when the constraint cannot be copied or fails to mask (the plain
     * step then masks, and reports a failure, as it always does).
     */
    private int allowedPrefix(Choice c, int n) {
        TokenConstraint ahead = c.constraint.copy();
        if (ahead == null) {
            return 0;
        }
        if (c.draftMasks == null) {
            c.draftMasks = new long[k + 1][];
        }
        try {
            c.draftMasks[0] = masks.allowed(c.constraint, c.draftMasks[0]);
        } catch (RuntimeException e) {
            return 0;
        }
        for (int j = 0; j < n; j++) {
            if (!SamplingBatch.allows(c.draftMasks[j], draft[j])) {
                return j; // position j samples under its mask, which cannot give the forbidden draft
            }
            try {
                ahead.accept(draft[j]);
                c.draftMasks[j + 1] = masks.allowed(ahead, c.draftMasks[j + 1]);
            } catch (RuntimeException e) {
                return j; // a state the constraint cannot go on from: the draft is not verified
            }
        }
        return n;
    }

    /**
     * The counts of positions {@code 0 .. n} in {@link Choice#draftCounts}: the choice's own, then copies that have
     * seen the drafts before each; 0 when the counts cannot be extended on the host.
     */
    private int countDrafts(Choice c, int n) {
        if (c.draftCounts == null) {
            c.draftCounts = new TokenCounts[k + 1];
        }
        c.draftCounts[0] = c.penalties;
        for (int j = 1; j <= n; j++) {
            c.draftCounts[j] = c.penalties.copyWith(draft, 0, j);
            if (c.draftCounts[j] == null) {
                java.util.Arrays.fill(c.draftCounts, null);
                return 0;
            }
        }
        return n;
    }
}
