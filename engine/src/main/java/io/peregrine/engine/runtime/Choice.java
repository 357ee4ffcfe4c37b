package io.peregrine.engine.runtime;

import io.peregrine.engine.backend.TokenCounts;
import io.peregrine.engine.parse.ChoiceParser;
import io.peregrine.engine.sample.SamplingParams;
import io.peregrine.engine.sched.Sequence;
import java.util.Set;
import java.util.SplittableRandom;

/** One choice of a request: its sequence and what sampling and stop checking remember about it. */
final class Choice {
    final Admission admission;
    final int index;
    final Sequence sequence;
    /**
     * Token counts for the penalties, kept where the model samples; after a speculating step, those of the last
     * emitted row ({@link #draftCounts}).
     */
    TokenCounts penalties;
    final SplittableRandom rng;
    /** Its tokens turned into text once: stop strings, output parsing, what each step released. */
    final ChoiceOutput output;
    /** null: unconstrained */
    final TokenConstraint constraint;
    /** The constraint's allowed tokens this step, packed (made on first use). */
    long[] allowed;
    /**
     * A speculating step of a constrained choice: the allowed tokens at each position from its last token through
     * its drafts, {@code draftMasks[j]} after drafts {@code 0 .. j-1} (made by {@link Speculator}, buffers reused).
     */
    long[][] draftMasks;
    /**
     * A speculating step of a penalised choice: the counts each position samples with, {@code draftCounts[0]} the
     * choice's own and {@code draftCounts[j]} a copy that has also seen drafts {@code 0 .. j-1} ({@link Speculator}).
     */
    TokenCounts[] draftCounts;
    long lastTokenNanos;
    boolean done;
    /** Draws taken from {@link #rng} ahead of the tokens that use them (a speculating step's draft rows). */
    private double[] aheadDraws = new double[0];
    private int ahead;

    /** What one sampled token did to the choice: what it released and, when it ended it, why. */
    record Outcome(ChoiceOutput.Released released, FinishReason reason, StopReason stopReason) {}

    Choice(Admission admission, int index, Sequence sequence, TokenCounts penalties, TokenDecoder decoder,
           boolean skipSpecialText) {
        this.admission = admission;
        this.index = index;
        this.sequence = sequence;
        this.penalties = penalties;
        Long seed = admission.request.sampling().seed();
        // Each choice draws from its own stream, so neither batch-mates nor sibling choices shift it.
        this.rng = seed == null ? new SplittableRandom() : new SplittableRandom(seed + 0x9E3779B97F4A7C15L * index);
        ChoiceParser.Factory parsers = admission.request.parser();
        this.output = new ChoiceOutput(decoder, skipSpecialText, admission.request.sampling().stop(),
                parsers == null ? null : parsers.forChoice());
        TokenConstraint.Factory f = admission.request.constraint();
        this.constraint = f == null ? null : f.forChoice(index);
    }

    /**
     * The {@code i}-th draw from now of the choice's stream, without using it up: a speculating step gives its
     * {@code k + 1} rows the next {@code k + 1} draws and uses up only as many as it emits tokens, so every
     * emitted token gets the draw it would get without speculation.
     */
    double peekDraw(int i) {
        if (aheadDraws.length <= i) {
            aheadDraws = java.util.Arrays.copyOf(aheadDraws, Math.max(i + 1, 2 * aheadDraws.length));
        }
        while (ahead <= i) {
            aheadDraws[ahead++] = rng.nextDouble();
        }
        return aheadDraws[i];
    }

    /** Uses up the next {@code n} draws. */
    void useDraws(int n) {
        peekDraw(n - 1);
        System.arraycopy(aheadDraws, n, aheadDraws, 0, ahead - n);
        ahead -= n;
    }

    /** The next draw, used up. */
    double nextDraw() {
        double u = peekDraw(0);
        useDraws(1);
        return u;
    }

    /**
     * Stop checks for a token already appended to the sequence, in order: eos (unless ignore_eos), stop token
     * ids, stop strings in the text, max_tokens. The ending token of an eos or stop id adds no text; a stop
     * string's text and everything after it is never released; any other ending releases all held text.
     */
    Outcome accept(int token, Set<Integer> eos) {
        SamplingParams p = admission.request.sampling();
        FinishReason reason = null;
        StopReason stopReason = null;
        int endId = -1;
        if (!p.ignoreEos() && eos.contains(token)) {
            reason = FinishReason.STOP;
            endId = token;
        } else if (p.stopTokenIds().contains(token)) {
            reason = FinishReason.STOP;
            stopReason = new StopReason.StopToken(token);
            endId = token;
        } else {
            String stop = output.push(token);
            if (stop != null) {
                reason = FinishReason.STOP;
                stopReason = new StopReason.StopString(stop);
            }
        }
        if (reason == null && sequence.generated() >= p.maxTokens()) {
            reason = FinishReason.LENGTH;
        }
        if (reason != null) {
            output.finish(endId, reason, !(stopReason instanceof StopReason.StopString));
        }
        return new Outcome(output.take(), reason, stopReason);
    }
}
