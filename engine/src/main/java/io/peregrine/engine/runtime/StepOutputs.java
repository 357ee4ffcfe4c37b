package io.peregrine.engine.runtime;

import io.peregrine.engine.model.StepLogits;
import io.peregrine.engine.sample.SamplingBatch;
import io.peregrine.engine.sched.ScheduledBatch;
import io.peregrine.engine.sched.Sequence;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * What a computed step produces for its choices: one sampling row per choice that samples now (an {@code n > 1}
 * request forks its other choices here, on the same logits row), sampled by the model's backend in one call, then
 * each token through its choice: constraint, sequence, events, stop checks. Engine thread only; its buffers are
 * reused step to step.
 */
final class StepOutputs {
    private static final System.Logger LOG = System.getLogger(StepOutputs.class.getName());

    private final Requests requests;
    private final EngineListener listener;
    private final TokenDecoder decoder;
    private final Set<Integer> eos;
    private final boolean skipSpecialTokens;
    private final int vocab;
    private final SamplingBatch sampling = new SamplingBatch();
    /** The choice of each sampling row. */
    private final List<Choice> rows = new ArrayList<>();
    private float[] maskScratch = new float[0]; // what a constraint masks, to read its allowed tokens from

    StepOutputs(Requests requests, EngineListener listener, TokenDecoder decoder, EngineConfig config, int vocab) {
        this.requests = requests;
        this.listener = listener;
        this.decoder = decoder;
        this.eos = Set.copyOf(config.eosTokenIds());
        this.skipSpecialTokens = config.skipSpecialTokens();
        this.vocab = vocab;
    }

    /** Samples every choice the step's slices end on, from {@code logits}, and hands each its token. */
    void postprocess(ScheduledBatch batch, StepLogits logits) {
        sampling.clear();
        rows.clear();
        for (int i = 0; i < batch.slices().size(); i++) {
            ScheduledBatch.Slice sl = batch.slices().get(i);
            Choice c = requests.choice(sl.sequence());
            if (!sl.samples() || c == null || c.done || c.request.ended) {
                continue;
            }
            // the other choices of an n > 1 request draw their first token from this row too
            List<Choice> siblings = c.index == 0 && !c.request.forked && c.request.request.sampling().n() > 1
                    ? requests.forkSiblings(c)
                    : List.of();
            addRow(c, i);
            for (Choice sib : siblings) {
                addRow(sib, i);
            }
        }
        try {
            logits.sample(sampling);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.ERROR, "sampling failed", e);
            for (Choice c : rows) {
                requests.fail(c.request, "sampling failed: " + e.getMessage());
            }
            return;
        }
        for (int r = 0; r < rows.size(); r++) {
            Choice c = rows.get(r);
            if (!c.request.ended && !c.done) {
                accept(c, r);
            }
        }
    }

    /** A sampling row for {@code c} from logits row {@code row}: its rule, counts, draw and constraint mask. */
    private void addRow(Choice c, int row) {
        SamplingParams p = c.request.request.sampling();
        long[] allowed = null;
        if (c.constraint != null) {
            try {
                allowed = allowedTokens(c);
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.ERROR, "sampling failed", e);
                requests.fail(c.request, "sampling failed: " + e.getMessage());
                return;
            }
        }
        var rule = p.rule();
        // one draw per token from the choice's own generator, so batch-mates and siblings never shift it
        sampling.add(row, rule, c.penalties, rule.greedy() ? 0.0 : c.rng.nextDouble(), allowed, p.logprobs());
        rows.add(c);
    }

    /** The constraint's allowed next tokens as the choice's packed bitmask (rewritten each step). */
    private long[] allowedTokens(Choice c) {
        if (maskScratch.length != vocab) {
            maskScratch = new float[vocab];
        }
        Arrays.fill(maskScratch, 0f);
        c.constraint.mask(maskScratch);
        if (c.allowed == null) {
            c.allowed = SamplingBatch.mask(vocab);
        }
        long[] bits = c.allowed;
        Arrays.fill(bits, 0L);
        boolean any = false;
        for (int t = 0; t < vocab; t++) {
            if (maskScratch[t] != Float.NEGATIVE_INFINITY) {
                bits[t >>> 6] |= 1L << t;
                any = true;
            }
        }
        if (!any) {
            throw new IllegalStateException("the token constraint allows no token");
        }
        return bits;
    }

    /** Row {@code r}'s sampled token through its choice: constraint, sequence, events, stop checks. */
    private void accept(Choice c, int r) {
        Admission a = c.request;
        SamplingParams p = a.request.sampling();
        Sequence s = c.sequence;
        int token = sampling.token(r);
        try {
            if (c.constraint != null) {
                c.constraint.accept(token);
            }
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.ERROR, "sampling failed", e);
            requests.fail(a, "sampling failed: " + e.getMessage());
            return;
        }
        s.append(token);
        requests.generationTokensTotal++;
        List<TokenLogprob> lp = p.logprobs() >= 0 ? List.of(logprob(r, token)) : List.of();

        long now = System.nanoTime();
        if (a.firstTokenNanos == 0) {
            a.firstTokenNanos = now;
            listener.firstToken(a.requestId(), now - a.submitNanos);
        }
        if (c.lastTokenNanos != 0) {
            listener.interToken(a.requestId(), c.index, now - c.lastTokenNanos);
        }
        c.lastTokenNanos = now;

        Choice.Outcome out = c.accept(token, eos, decoder, skipSpecialTokens);
        requests.emit(a, new EngineEvent.Tokens(c.index, new int[] {token}, out.text(), lp));
        if (out.reason() != null && !a.ended) {
            requests.finishChoice(c, out.reason(), out.stopReason());
        }
    }

    private TokenLogprob logprob(int r, int token) {
        List<TokenLogprob.Alternative> top = new ArrayList<>(sampling.topCount(r));
        for (int j = 0; j < sampling.topCount(r); j++) {
            top.add(new TokenLogprob.Alternative(sampling.topId(r, j), sampling.topLogprob(r, j)));
        }
        return new TokenLogprob(token, sampling.logprob(r), top);
    }
}
