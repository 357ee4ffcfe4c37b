package io.peregrine.engine.sched;

import io.peregrine.engine.kv.BlockManager;
import io.peregrine.engine.kv.LatentCache;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * Continuous batching policy (nano-vllm's shape, vLLM v1's unified prefill/decode step): every step first gives
 * each running sequence its next tokens (decodes first, then the rest of a chunked prefill as the token budget
 * allows, oldest first); when blocks run out the newest running sequence is preempted and recomputed later.
 * Then, if nothing was preempted, waiting sequences join in FCFS order, starting after their prefix-cache hit.
 * A sequence whose next positions are media rows still being encoded ({@link Sequence#computableEnd}) is passed
 * over: it prefills up to them and resumes when they arrive.
 * Pure policy over the {@link BlockManager}; the engine runs the model and samples.
 */
public final class Scheduler {
    private final SchedulerConfig config;
    private final BlockManager blocks;
    private final Deque<Sequence> waiting = new ArrayDeque<>();
    // Ordered by arrival, so the last one is the preemption victim.
    private final List<Sequence> running = new ArrayList<>();
    private long prefixQueriedTokens;
    private long prefixHitTokens;
    private long preemptions;

    public Scheduler(SchedulerConfig config, BlockManager blocks) {
        this.config = config;
        this.blocks = blocks;
    }

    public BlockManager blocks() {
        return blocks;
    }

    public void add(Sequence s) {
        if (s.status() != SequenceStatus.WAITING || !s.blockTable().isEmpty()) {
            throw new IllegalStateException("only a new sequence can be added: " + s);
        }
        waiting.addLast(s);
    }

    public int waiting() {
        return waiting.size();
    }

    public int running() {
        return running.size();
    }

    public boolean hasWork() {
        return !waiting.isEmpty() || !running.isEmpty();
    }

    public long prefixQueriedTokens() {
        return prefixQueriedTokens;
    }

    public long prefixHitTokens() {
        return prefixHitTokens;
    }

    public long preemptions() {
        return preemptions;
    }

    public ScheduledBatch schedule() {
        int budget = config.maxBatchedTokens();
        PrefillBudget prefill = new PrefillBudget(config.maxPrefillCost());
        // With requests waiting, the running prefills leave half the budget to them, so that a short
        // prompt gets in at once instead of after a long prompt's last chunk.
        prefill.reserve(!waiting.isEmpty());
        List<ScheduledBatch.Slice> slices = new ArrayList<>();
        List<Sequence> preempted = new ArrayList<>();

        // Decodes first, then prefill chunks, each oldest first: a long (re)computation never holds back the
        // sequences that only need their next token.
        List<Sequence> order = new ArrayList<>(running.size());
        for (Sequence s : running) {
            if (isDecode(s)) {
                order.add(s);
            }
        }
        for (Sequence s : running) {
            if (!isDecode(s)) {
                order.add(s);
            }
        }
        Set<Sequence> scheduled = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Sequence s : order) {
            if (budget == 0) {
                break;
            }
            if (s.status() != SequenceStatus.RUNNING) {
                continue; // preempted earlier in this step
            }
            if (s.uncomputed() == 0) {
                throw new IllegalStateException("running sequence with nothing to compute: " + s);
            }
            if (s.drafts() > 0 && (s.uncomputed() > budget || !blocks.canGrow(s.blockTable(), s.length()))) {
                s.dropDrafts(); // a speculating sequence verifies all its drafts or none, and never preempts for them
            }
            int n = Math.min(s.computableEnd() - s.computed(), budget);
            if (n <= 0) {
                continue; // waiting for media rows: it keeps its blocks and leaves the budget to the others
            }
            if (s.uncomputed() != 1) {
                n = prefill.chunk(s.computed(), n);
                if (n == 0) {
                    continue; // this step's prefill budget is spent: it goes on next step
                }
            }
            while (!blocks.canGrow(s.blockTable(), s.computed() + n)) {
                Sequence victim = newestUnscheduled(scheduled, s);
                running.remove(victim);
                preempt(victim);
                preempted.add(victim);
                if (victim == s) {
                    break;
                }
            }
            if (s.status() != SequenceStatus.RUNNING) {
                continue;
            }
            blocks.grow(s.blockTable(), s.computed() + n);
            slices.add(new ScheduledBatch.Slice(s, s.computed(), n));
            scheduled.add(s);
            budget -= n;
        }
        for (Sequence s : running) {
            if (s.drafts() > 0 && !scheduled.contains(s)) {
                s.dropDrafts(); // out of budget: drafts are proposed afresh before the next step
            }
        }

        prefill.reserve(false);
        Iterator<Sequence> queue = waiting.iterator();
        while (preempted.isEmpty() && budget > 0 && queue.hasNext() && running.size() < config.maxRunning()) {
            Sequence s = queue.next();
            // The last token is always computed: its logits are what the step is for. Blocks past media rows
            // still to arrive may hit too: their keys hold the pending items' content hashes.
            int[] hits = blocks.lookup(s.tokenArray(), s.length() - 1, s.mediaHashes());
            int cached = hits.length * blocks.blockSize();
            int n = Math.min(s.computableEnd(cached) - cached, budget);
            if (n <= 0) {
                continue; // nothing computable before its next media rows arrive: the next in line may go
            }
            n = prefill.chunk(cached, n);
            if (n == 0) {
                break; // the prefill budget is spent; FCFS: nobody overtakes
            }
            if (!blocks.canAdmit(hits, cached + n)) {
                break;
            }
            queue.remove();
            if (s.cachedPromptTokens() < 0) {
                prefixQueriedTokens += s.promptLength();
                prefixHitTokens += Math.min(cached, s.promptLength());
            }
            blocks.admit(s.blockTable(), hits, cached + n);
            s.startedAt(cached);
            insertRunning(s);
            slices.add(new ScheduledBatch.Slice(s, cached, n));
            budget -= n;
        }
        return new ScheduledBatch(slices, preempted);
    }

    /**
     * The prefill work left in one step ({@link SchedulerConfig#maxPrefillCost}). The first prefill chunk of a step
     * always gets at least one token, so every prompt progresses whatever its context.
     */
    private static final class PrefillBudget {
        private final long max;
        private long used;
        private boolean reserved;
        private boolean any;

        PrefillBudget(long max) {
            this.max = max;
        }

        void reserve(boolean half) {
            reserved = half;
        }

        /** The most tokens, up to {@code wanted}, a chunk after {@code computed} tokens may take; charges them. */
        int chunk(int computed, int wanted) {
            if (max == 0) {
                return wanted;
            }
            long left = (reserved ? max / 2 : max) - used;
            int n = wanted;
            if (cost(computed, n) > left) {
                // n·(p + TOKEN_COST) + n(n+1)/2 <= left, solved for n, then corrected for rounding.
                double p = computed + SchedulerConfig.TOKEN_COST + 0.5;
                n = (int) Math.min(wanted, Math.max(0, Math.floor(-p + Math.sqrt(p * p + 2.0 * Math.max(0, left)))));
                while (n > 0 && cost(computed, n) > left) {
                    n--;
                }
                if (n == 0 && !any) {
                    n = 1;
                }
            }
            if (n > 0) {
                any = true;
                used += cost(computed, n);
            }
            return n;
        }

        private static long cost(long computed, long n) {
            return n * (computed + SchedulerConfig.TOKEN_COST) + n * (n + 1) / 2;
        }
    }

    /**
     * Records that the model wrote the batch's latents: advances each sequence and publishes its newly full
     * blocks to the prefix cache. Sampling and {@link Sequence#append} come after.
     */
    public void completed(ScheduledBatch batch) {
        for (ScheduledBatch.Slice slice : batch.slices()) {
            Sequence s = slice.sequence();
            if (s.isFinished()) {
                continue;
            }
            s.advance(slice.count());
            // unverified drafts' blocks are published only once verification keeps them (verified)
            blocks.publish(s.blockTable(), s.tokenArray(), s.computed() - s.drafts(), s.mediaHashes());
        }
    }

    /**
     * Takes a verified sequence's drafts out of it, copied into {@code out}, before its emitted tokens are appended
     * ({@link #verified} follows).
     */
    public int takeDrafts(Sequence s, int[] out) {
        int n = s.drafts();
        System.arraycopy(s.tokenArray(), s.length() - n, out, 0, n);
        s.dropDrafts();
        return n;
    }

    /**
     * Speculative decoding's rollback: the first {@code kept} tokens appended after {@link #takeDrafts} equal
     * drafts the step computed, so their latents stay; the blocks only rejected drafts reached are released and
     * newly full verified blocks are published.
     */
    public void verified(Sequence s, int kept) {
        if (s.isFinished()) {
            return;
        }
        s.keepComputed(kept);
        blocks.truncate(s.blockTable(), s.length());
        blocks.publish(s.blockTable(), s.tokenArray(), s.computed(), s.mediaHashes());
    }

    /**
     * A running, fully computed sequence's twin for another choice of the same request: full blocks are shared,
     * the partial tail is copied. Without a free block for the copy, the twin waits at the front of the queue
     * and recomputes its prompt (mostly from the prefix cache).
     */
    public Sequence fork(Sequence parent, long childId, LatentCache cache) {
        if (parent.status() != SequenceStatus.RUNNING || parent.uncomputed() != 0) {
            throw new IllegalStateException("fork needs a running, fully computed sequence: " + parent);
        }
        Sequence child = new Sequence(childId, parent);
        if (blocks.fork(parent.blockTable(), parent.computed(), child.blockTable(), cache)) {
            child.running();
            running.add(running.indexOf(parent) + 1, child);
        } else {
            child.restartWaiting();
            waiting.addFirst(child);
        }
        return child;
    }

    /** Removes a sequence wherever it is and frees its blocks (finish, abort, timeout, failure). */
    public void finish(Sequence s) {
        if (s.isFinished()) {
            return;
        }
        if (s.status() == SequenceStatus.RUNNING) {
            running.remove(s);
        } else {
            waiting.remove(s);
        }
        blocks.free(s.blockTable());
        s.finished();
    }

    // Needs only its next token: the last one, plus the drafts it verifies when it speculates.
    private static boolean isDecode(Sequence s) {
        return s.uncomputed() - s.drafts() == 1;
    }

    // The victim of preemption: the newest running sequence not yet given tokens this step, else {@code self}.
    private Sequence newestUnscheduled(Set<Sequence> scheduled, Sequence self) {
        for (int i = running.size() - 1; i >= 0; i--) {
            Sequence c = running.get(i);
            if (c != self && !scheduled.contains(c)) {
                return c;
            }
        }
        return self;
    }

    private void preempt(Sequence s) {
        blocks.free(s.blockTable());
        s.preempted();
        preemptions++;
        waiting.addFirst(s);
    }

    private void insertRunning(Sequence s) {
        int i = running.size();
        while (i > 0 && running.get(i - 1).arrivalOrder() > s.arrivalOrder()) {
            i--;
        }
        running.add(i, s);
    }
}
