package io.peregrine.engine.runtime;

import io.peregrine.engine.backend.TokenCounts;
import io.peregrine.engine.model.StepLogits;
import io.peregrine.engine.sample.SamplingBatch;
import io.peregrine.engine.sample.SamplingParams;
import io.peregrine.engine.sample.TokenLogprob;
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
    private final Set<Integer> eos;
    private final SamplingBatch sampling = new SamplingBatch();
    /** The choice of each sampling row. */
    private final List<Choice> rows = new ArrayList<>();
    private final ConstraintMasks masks;
    /** By sampling row: rows of its choice's group (k + 1 at a speculating choice's first row, 0 in it, else 1). */
    private int[] group = new int[16];
    private int[] draftScratch = new int[0];

    StepOutputs(Requests requests, EngineListener listener, EngineConfig config, int vocab) {
        this.requests = requests;
        this.listener = listener;
        this.eos = Set.copyOf(config.eosTokenIds());
        this.masks = new ConstraintMasks(vocab);
    }

    /** Samples every choice the step's slices end on, from {@code logits}, and hands each its token(s). */
    void postprocess(ScheduledBatch batch, StepLogits logits) {
        sampling.clear();
        rows.clear();
        int logitsRow = 0;
        for (int i = 0; i < batch.slices().size(); i++) {
            ScheduledBatch.Slice sl = batch.slices().get(i);
            int row = logitsRow;
            int drafts = sl.sequence().drafts();
            logitsRow += drafts > 0 ? sl.count() : 1; // a speculating slice has logits for every position
            Choice c = requests.choice(sl.sequence());
            if (!sl.samples() || c == null || c.done || c.admission.ended) {
                continue;
            }
            if (drafts > 0) {
                addDraftRows(c, row, drafts);
                continue;
            }
            // the other choices of an n > 1 request draw their first token from this row too
            List<Choice> siblings = c.index == 0 && !c.admission.forked && c.admission.request.sampling().n() > 1
                    ? requests.forkSiblings(c)
                    : List.of();
            addRow(c, row);
            for (Choice sib : siblings) {
                addRow(sib, row);
            }
        }
        try {
            logits.sample(sampling);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.ERROR, "sampling failed", e);
            for (Choice c : rows) {
                requests.fail(c.admission, "sampling failed: " + e.getMessage());
            }
            return;
        }
        for (int r = 0; r < rows.size(); r += group[r]) {
            Choice c = rows.get(r);
            if (group[r] > 1) {
                verify(c, r, group[r] - 1);
            } else if (!c.admission.ended && !c.done) {
                accept(c, r);
            }
        }
    }

    /**
     * The {@code k + 1} sampling rows of a speculating choice, one per position from its last token through its
     * drafts, each drawn as a plain row with the draw that token would get without speculation ({@link Choice#peekDraw}).
     */
    private void addDraftRows(Choice c, int row, int k) {
        SamplingParams p = c.admission.request.sampling();
        var rule = p.rule();
        boolean penalised = rule.penalised();
        for (int j = 0; j <= k; j++) {
            // row j's mask and counts are those after drafts 0 .. j-1 (Speculator made them); an unpenalised
            // choice's counts are never read, so its rows share them and rows past a rejection may add to them
            TokenCounts counts = penalised ? c.draftCounts[j] : c.penalties;
            long[] allowed = c.constraint == null ? null : c.draftMasks[j];
            int r = sampling.add(row + j, rule, counts, rule.greedy() ? 0.0 : c.peekDraw(j), allowed, p.logprobs());
            rows.add(c);
            setGroup(r, j == 0 ? k + 1 : 0);
        }
    }

    /**
     * Verification of a speculating choice's {@code k} drafts against sampling rows {@code r .. r + k}. Row {@code j}
     * is the target's own token {@code x_j} for position {@code j} after the last token, drawn exactly as without
     * speculation; draft {@code d_j} is accepted when {@code x_j == d_j}, and the first {@code x_j} that differs (or
     * the bonus {@code x_k}) is emitted and ends the step. Greedy, this accepts the longest prefix that matches the
     * argmax. Sampled, it is Leviathan et al.'s rejection sampling with the drafter's point mass as the draft
     * distribution: {@code d} is accepted with probability {@code p(d)}, and on rejection the emitted token is
     * {@code p} conditioned on not being {@code d} ({@code p} with {@code d} removed and renormalised), so every
     * emitted token is distributed as the target's, penalties, temperature, top-k/top-p and min-p included.
     */
    private void verify(Choice c, int r, int k) {
        Sequence s = c.sequence;
        if (c.admission.ended || c.done) {
            return;
        }
        if (draftScratch.length < k) {
            draftScratch = new int[k];
        }
        requests.scheduler().takeDrafts(s, draftScratch);
        int emitted = 0;
        int accepted = 0;
        for (int j = 0; j <= k; j++) {
            int x = sampling.token(r + j);
            accept(c, r + j);
            emitted++;
            if (c.done || c.admission.ended || j == k || x != draftScratch[j]) {
                break;
            }
            accepted++;
        }
        if (!c.admission.request.sampling().rule().greedy()) {
            c.useDraws(emitted);
        }
        if (c.admission.request.sampling().rule().penalised()) {
            // the last emitted row's counts saw the drafts before it, which equal the emitted tokens, and the
            // backend added its own token: exactly the emitted tokens, as plain decoding would count them
            c.penalties = c.draftCounts[emitted - 1];
            Arrays.fill(c.draftCounts, null);
        }
        listener.speculated(k, accepted);
        if (!c.done && !c.admission.ended) {
            requests.scheduler().verified(s, accepted);
        }
    }

    private void setGroup(int r, int size) {
        if (group.length <= r) {
            group = Arrays.copyOf(group, Math.max(r + 1, 2 * group.length));
        }
        group[r] = size;
    }

    /** A sampling row for {@code c} from logits row {@code row}: its rule, counts, draw and constraint mask. */
    private void addRow(Choice c, int row) {
        SamplingParams p = c.admission.request.sampling();
        long[] allowed = null;
        if (c.constraint != null) {
            try {
                allowed = allowedTokens(c);
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.ERROR, "sampling failed", e);
                requests.fail(c.admission, "sampling failed: " + e.getMessage());
                return;
            }
        }
        var rule = p.rule();
        // one draw per token from the choice's own generator, so batch-mates and siblings never shift it
        int r = sampling.add(row, rule, c.penalties, rule.greedy() ? 0.0 : c.nextDraw(), allowed, p.logprobs());
        rows.add(c);
        setGroup(r, 1);
    }

    /** The constraint's allowed next tokens as the choice's packed bitmask (rewritten each step). */
    private long[] allowedTokens(Choice c) {
        c.allowed = masks.allowed(c.constraint, c.allowed);
        return c.allowed;
    }

    /** Row {@code r}'s sampled token through its choice: constraint, sequence, events, stop checks. */
    private void accept(Choice c, int r) {
        Admission a = c.admission;
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

        Choice.Outcome out = c.accept(token, eos);
        requests.emit(a, EngineEvent.Tokens.of(c.index, new int[] {token}, lp, out.released()));
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
