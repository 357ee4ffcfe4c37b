package io.peregrine.engine.runtime;

import io.peregrine.engine.kv.BlockManager;
import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.model.LanguageModel;
import io.peregrine.engine.model.MediaSpan;
import io.peregrine.engine.model.PendingMedia;
import io.peregrine.engine.model.SequenceSlice;
import io.peregrine.engine.model.StepLogits;
import io.peregrine.engine.sample.SamplingBatch;
import io.peregrine.engine.sched.ScheduledBatch;
import io.peregrine.engine.sched.Scheduler;
import io.peregrine.engine.sched.Sequence;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The serving engine: one platform thread owns the model, the cache and the scheduler and loops
 * schedule → forward → sample → postprocess (nano-vllm's step). Other threads only enqueue submissions and
 * set abort flags; every sink and listener call happens on the engine thread.
 */
public final class ServingEngine implements InferenceEngine {
    private static final System.Logger LOG = System.getLogger(ServingEngine.class.getName());
    private static final Object WAKE = new Object();
    private static final long IDLE_POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

    private final LanguageModel model;
    private final LatentCache cache;
    private final EngineConfig config;
    private final TokenDecoder decoder;
    private final EngineListener listener;
    private final Scheduler scheduler;
    /** This step's sampling rows and the choice each belongs to (reused step to step). */
    private final SamplingBatch sampling = new SamplingBatch();
    private final List<Choice> sampled = new ArrayList<>();
    private float[] maskScratch = new float[0]; // what a constraint masks, to read its allowed tokens from
    private final Set<Integer> eos;
    private final int vocabSize;
    private final int hiddenSize;

    private final LinkedBlockingQueue<Object> inbox = new LinkedBlockingQueue<>();
    private final AtomicInteger queued = new AtomicInteger();
    private final AtomicInteger active = new AtomicInteger();
    private final Thread thread;
    private volatile boolean accepting = true;
    private volatile boolean stopping;
    private volatile EngineStats stats;

    // engine-thread state
    private final Set<Admission> admissions = new LinkedHashSet<>();
    private final Map<Long, Choice> bySequence = new HashMap<>();
    private long nextSequenceId;
    private boolean idleStep;
    private long promptTokensTotal;
    private long generationTokensTotal;

    public ServingEngine(LanguageModel model, LatentCache cache, EngineConfig config, TokenDecoder decoder,
                         EngineListener listener) {
        this.model = model;
        this.cache = cache;
        this.config = config;
        this.decoder = decoder;
        this.listener = new GuardedListener(listener);
        this.scheduler = new Scheduler(config.scheduler(), new BlockManager(cache.numBlocks(), cache.blockSize()));
        this.eos = Set.copyOf(config.eosTokenIds());
        this.vocabSize = model.config().vocabSize();
        this.hiddenSize = model.config().hiddenSize();
        this.stats = snapshot();
        this.thread = Thread.ofPlatform().name("peregrine-engine").daemon(true).unstarted(this::loop);
        thread.start();
    }

    /** A cache of as many {@code blockSize}-slot blocks as {@code bytes} hold for {@code model}'s latents. */
    public static LatentCache cacheFor(LanguageModel model, long bytes, int blockSize) {
        int layers = model.config().numHiddenLayers();
        int width = model.config().kvCacheWidth();
        int blocks = LatentCache.blocksForBudget(bytes, layers, blockSize, width);
        if (blocks < 1) {
            throw new IllegalArgumentException("a KV budget of " + bytes + " bytes holds no block of " + blockSize
                    + " tokens (" + (long) layers * blockSize * width * Float.BYTES + " bytes)");
        }
        return model.newCache(blocks, blockSize);
    }

    @Override
    public RequestHandle submit(GenerationRequest request, EventSink sink) throws RejectedException {
        if (!accepting) {
            throw new RejectedException(RejectedException.Kind.UNAVAILABLE, "the engine is shutting down");
        }
        RequestValidator.validate(request, config.maxModelLen(), scheduler.blocks(), vocabSize, hiddenSize);
        if (queued.incrementAndGet() > config.maxWaiting()) {
            queued.decrementAndGet();
            throw new RejectedException(RejectedException.Kind.QUEUE_FULL,
                    "the waiting queue is full (" + config.maxWaiting() + " requests)");
        }
        long now = System.nanoTime();
        long deadline = Long.MAX_VALUE;
        if (request.deadline() != null) {
            deadline = now + Math.max(0, Duration.between(Instant.now(), request.deadline()).toNanos());
        }
        Admission a = new Admission(request, sink, now, deadline, () -> inbox.add(WAKE));
        active.incrementAndGet();
        if (request.pendingMedia() != null) {
            // Arriving rows (and a failed encode) wake a loop that waits with nothing computable.
            request.pendingMedia().onProgress(() -> inbox.add(WAKE));
        }
        inbox.add(a);
        return a;
    }

    @Override
    public EngineStats stats() {
        EngineStats s = stats;
        return new EngineStats(queued.get(), s.running(), s.kvCacheUsage(), s.kvBlocksUsed(), s.kvBlocksTotal(),
                s.prefixCacheQueriedTokens(), s.prefixCacheHitTokens(), s.promptTokensTotal(),
                s.generationTokensTotal());
    }

    @Override
    public int maxModelLen() {
        return config.maxModelLen();
    }

    /** Requests submitted and not yet ended (queued or running). */
    public int activeRequests() {
        return active.get();
    }

    @Override
    public void drain(long timeoutMillis) throws InterruptedException {
        accepting = false;
        if (Thread.currentThread() == thread) {
            throw new IllegalStateException("drain from the engine thread (a sink) would wait for itself");
        }
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        while (active.get() > 0 && System.nanoTime() < end && thread.isAlive()) {
            Thread.sleep(2);
        }
        if (active.get() > 0) {
            stopping = true; // the loop aborts what is left
            inbox.add(WAKE);
            thread.join(TimeUnit.SECONDS.toMillis(10));
        }
    }

    @Override
    public void close() {
        accepting = false;
        stopping = true;
        inbox.add(WAKE);
        if (Thread.currentThread() == thread) {
            return; // closed from a sink: the loop ends after this step
        }
        try {
            thread.join(TimeUnit.SECONDS.toMillis(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ---- engine thread ----

    private void loop() {
        while (true) {
            try {
                takeInbox();
                if (stopping) {
                    for (Admission a : List.copyOf(admissions)) {
                        end(a, FinishReason.ABORT);
                    }
                    if (inbox.isEmpty()) {
                        stats = snapshot();
                        return;
                    }
                    continue;
                }
                reap();
                if (scheduler.hasWork()) {
                    step();
                }
                stats = snapshot();
            } catch (InterruptedException e) {
                stopping = true;
            } catch (RuntimeException | Error e) {
                // A bug in bookkeeping must not leave clients hanging: fail everything and keep serving.
                LOG.log(System.Logger.Level.ERROR, "engine step failed", e);
                for (Admission a : List.copyOf(admissions)) {
                    try {
                        fail(a, "internal engine error: " + e);
                    } catch (RuntimeException again) {
                        LOG.log(System.Logger.Level.ERROR, "could not fail " + a.requestId(), again);
                        admissions.remove(a);
                    }
                }
            }
        }
    }

    private void takeInbox() throws InterruptedException {
        Object first = null;
        if (admissions.isEmpty() && !stopping) {
            first = inbox.poll(IDLE_POLL_NANOS, TimeUnit.NANOSECONDS);
        } else if (!scheduler.hasWork() && !stopping) {
            // Everything is queued behind a deadline or an abort: wake for those.
            first = inbox.poll(1, TimeUnit.MILLISECONDS);
        } else if (idleStep && !stopping) {
            // The last step had nothing computable (media rows still encoding): sleep until rows arrive, a
            // request comes or ends, or the nearest deadline.
            first = inbox.poll(Math.max(0, Math.min(IDLE_POLL_NANOS, nearestDeadline() - System.nanoTime())),
                    TimeUnit.NANOSECONDS);
        }
        List<Object> items = new ArrayList<>();
        if (first != null) {
            items.add(first);
        }
        inbox.drainTo(items);
        for (Object o : items) {
            if (o instanceof Admission a) {
                admit(a);
            }
        }
    }

    private void admit(Admission a) {
        GenerationRequest r = a.request;
        int[] prompt = r.promptIds();
        long id = nextSequenceId++;
        Sequence s = new Sequence(id, prompt, id);
        if (!r.media().isEmpty() || r.pendingMedia() != null) {
            s.setMedia(r.media(), MediaSpan.blockHashes(r.media(), r.pendingMedia(), cache.blockSize()));
            s.setPendingMedia(r.pendingMedia());
        }
        Choice c = new Choice(a, 0, s, model.tokenCounts(prompt, prompt.length));
        a.choices.add(c);
        bySequence.put(s.id(), c);
        admissions.add(a);
        scheduler.add(s);
    }

    private void reap() {
        long now = System.nanoTime();
        for (Admission a : List.copyOf(admissions)) {
            PendingMedia.Failure mediaFailure = a.request.pendingMedia() == null ? null
                    : a.request.pendingMedia().failure();
            if (a.abortRequested) {
                end(a, FinishReason.ABORT);
            } else if (mediaFailure != null) {
                fail(a, mediaFailure.message(), mediaFailure.invalidInput());
            } else if (now >= a.deadlineNanos) {
                end(a, FinishReason.TIMEOUT);
            }
        }
    }

    private long nearestDeadline() {
        long d = Long.MAX_VALUE;
        for (Admission a : admissions) {
            d = Math.min(d, a.deadlineNanos);
        }
        return d;
    }

    private void step() {
        ScheduledBatch batch = scheduler.schedule();
        for (Sequence s : batch.preempted()) {
            listener.preempted(bySequence.get(s.id()).request.requestId());
        }
        // Nothing computable and nothing preempted (which is re-admitted next step): every sequence waits for media
        // rows, so the next inbox take sleeps until rows, a request or an abort wake it.
        idleStep = batch.isEmpty() && batch.preempted().isEmpty();
        if (batch.isEmpty()) {
            return;
        }
        long t0 = System.nanoTime();
        List<SequenceSlice> slices = new ArrayList<>(batch.slices().size());
        for (ScheduledBatch.Slice sl : batch.slices()) {
            Sequence s = sl.sequence();
            Admission a = bySequence.get(s.id()).request;
            if (!a.scheduled) {
                markScheduled(a, s, t0);
            }
            slices.add(new SequenceSlice(s.tokens(sl.start(), sl.start() + sl.count()), sl.start(),
                    s.blockTable().toArray(), false, s.inputEmbeddings(sl.start(), sl.start() + sl.count())));
        }
        StepLogits logits;
        try {
            logits = model.step(slices, cache);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.ERROR, "forward pass failed", e);
            Set<Admission> hit = new LinkedHashSet<>();
            for (ScheduledBatch.Slice sl : batch.slices()) {
                hit.add(bySequence.get(sl.sequence().id()).request);
            }
            for (Admission a : hit) {
                fail(a, "forward pass failed: " + e.getMessage());
            }
            return;
        }
        long forwardNanos = System.nanoTime() - t0;
        for (ScheduledBatch.Slice sl : batch.slices()) {
            if (sl.start() < sl.sequence().promptLength()) {
                listener.prefillChunk(bySequence.get(sl.sequence().id()).request.requestId(), sl.start(), sl.count(),
                        t0, forwardNanos);
            }
        }
        scheduler.completed(batch);
        sampling.clear();
        sampled.clear();
        for (int i = 0; i < batch.slices().size(); i++) {
            ScheduledBatch.Slice sl = batch.slices().get(i);
            Choice c = bySequence.get(sl.sequence().id());
            if (!sl.samples() || c == null || c.done || c.request.ended) {
                continue;
            }
            // the other choices of an n > 1 request draw their first token from this row too
            List<Choice> siblings = c.index == 0 && !c.request.forked && c.request.request.sampling().n() > 1
                    ? forkSiblings(c)
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
            for (Choice c : sampled) {
                fail(c.request, "sampling failed: " + e.getMessage());
            }
            return;
        }
        for (int r = 0; r < sampled.size(); r++) {
            Choice c = sampled.get(r);
            if (!c.request.ended && !c.done) {
                emitSampled(c, r);
            }
        }
        listener.step(batch.slices().size(), batch.tokens(), System.nanoTime() - t0);
    }

    private void markScheduled(Admission a, Sequence s, long now) {
        a.scheduled = true;
        queued.decrementAndGet();
        promptTokensTotal += s.promptLength();
        long queueNanos = now - a.submitNanos;
        emit(a, new EngineEvent.Scheduled(a.requestId(), s.promptLength(), s.cachedPromptTokens(), queueNanos));
        listener.scheduled(a.requestId(), queueNanos, s.promptLength(), s.cachedPromptTokens());
    }

    /**
     * The other choices start from choice 0's prompt: shared blocks, and the same first-token logits.
     * Returns those that got blocks and sample from those logits now; the rest recompute their prompt.
     */
    private List<Choice> forkSiblings(Choice first) {
        Admission a = first.request;
        a.forked = true;
        int n = a.request.sampling().n();
        List<Choice> ready = new ArrayList<>();
        for (int k = 1; k < n; k++) {
            Sequence child = scheduler.fork(first.sequence, nextSequenceId++, cache);
            Choice c = new Choice(a, k, child, first.penalties.copy());
            a.choices.add(c);
            bySequence.put(child.id(), c);
            if (child.uncomputed() == 0) {
                ready.add(c);
            }
        }
        return ready;
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
                fail(c.request, "sampling failed: " + e.getMessage());
                return;
            }
        }
        var rule = p.rule();
        // one draw per token from the choice's own generator, so batch-mates and siblings never shift it
        sampling.add(row, rule, c.penalties, rule.greedy() ? 0.0 : c.rng.nextDouble(), allowed, p.logprobs());
        sampled.add(c);
    }

    /** The constraint's allowed next tokens as the choice's packed bitmask (rewritten each step). */
    private long[] allowedTokens(Choice c) {
        int vocab = model.config().vocabSize();
        if (maskScratch.length != vocab) {
            maskScratch = new float[vocab];
        }
        java.util.Arrays.fill(maskScratch, 0f);
        c.constraint.mask(maskScratch);
        if (c.allowed == null) {
            c.allowed = SamplingBatch.mask(vocab);
        }
        long[] bits = c.allowed;
        java.util.Arrays.fill(bits, 0L);
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

    /** Postprocesses row {@code r}'s sampled token for its choice: constraint, sequence, events, stop checks. */
    private void emitSampled(Choice c, int r) {
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
            fail(a, "sampling failed: " + e.getMessage());
            return;
        }
        s.append(token);
        generationTokensTotal++;
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

        Choice.Outcome out = c.accept(token, eos, decoder, config.skipSpecialTokens());
        emit(a, new EngineEvent.Tokens(c.index, new int[] {token}, out.text(), lp));
        if (out.reason() != null && !a.ended) {
            finishChoice(c, out.reason(), out.stopReason());
        }
    }

    private TokenLogprob logprob(int r, int token) {
        List<TokenLogprob.Alternative> top = new ArrayList<>(sampling.topCount(r));
        for (int j = 0; j < sampling.topCount(r); j++) {
            top.add(new TokenLogprob.Alternative(sampling.topId(r, j), sampling.topLogprob(r, j)));
        }
        return new TokenLogprob(token, sampling.logprob(r), top);
    }

    private void finishChoice(Choice c, FinishReason reason, Object stopReason) {
        Admission a = c.request;
        c.done = true;
        scheduler.finish(c.sequence);
        bySequence.remove(c.sequence.id());
        a.finishedChoices++;
        a.lastReason = reason;
        boolean last = a.finishedChoices == a.request.sampling().n();
        // Metrics first, the client's last event next, the request's retirement last: whoever sees the end
        // of a request (a sink, drain) sees its metrics recorded.
        if (last) {
            listener.finished(a.requestId(), reason, a.request.promptLength(), a.completionTokens(),
                    System.nanoTime() - a.submitNanos);
        }
        emit(a, new EngineEvent.Finished(c.index, reason, stopReason, c.sequence.generated()));
        if (last) {
            retire(a);
        }
    }

    /** Ends every unfinished choice of {@code a} with {@code reason} (abort, timeout, shutdown). */
    private void end(Admission a, FinishReason reason) {
        if (a.ended) {
            return;
        }
        int n = a.request.sampling().n();
        listener.finished(a.requestId(), reason, a.request.promptLength(), a.completionTokens(),
                System.nanoTime() - a.submitNanos);
        // Choices not forked yet never started; they end too.
        for (int k = 0; k < n; k++) {
            Choice c = k < a.choices.size() ? a.choices.get(k) : null;
            if (c != null && c.done) {
                continue;
            }
            String text = "";
            if (c != null) {
                c.done = true;
                scheduler.finish(c.sequence);
                bySequence.remove(c.sequence.id());
                if (reason == FinishReason.TIMEOUT) {
                    text = c.text.flush();
                }
            }
            if (!text.isEmpty()) {
                emit(a, new EngineEvent.Tokens(k, new int[0], text, List.of()));
            }
            emit(a, new EngineEvent.Finished(k, reason, null, c == null ? 0 : c.sequence.generated()));
        }
        a.finishedChoices = n;
        a.lastReason = reason;
        retire(a);
    }

    private void fail(Admission a, String message) {
        fail(a, message, false);
    }

    private void fail(Admission a, String message, boolean invalidInput) {
        if (a.ended) {
            return;
        }
        for (Choice c : a.choices) {
            if (!c.done) {
                c.done = true;
                scheduler.finish(c.sequence);
                bySequence.remove(c.sequence.id());
            }
        }
        listener.failed(a.requestId(), message);
        emit(a, new EngineEvent.Failed(a.requestId(), message, invalidInput));
        retire(a);
    }

    private void retire(Admission a) {
        a.ended = true;
        if (a.request.pendingMedia() != null) {
            a.request.pendingMedia().cancel(); // stops the encoder of media nobody will read
        }
        if (!a.scheduled) {
            a.scheduled = true;
            queued.decrementAndGet();
        }
        admissions.remove(a);
        active.decrementAndGet();
    }

    private void emit(Admission a, EngineEvent event) {
        try {
            a.sink.accept(event);
        } catch (RuntimeException e) {
            // A broken sink means nobody is listening: stop spending compute on the request.
            LOG.log(System.Logger.Level.WARNING, "event sink of " + a.requestId() + " failed; aborting it", e);
            a.abortRequested = true;
        }
    }

    private EngineStats snapshot() {
        BlockManager b = scheduler.blocks();
        return new EngineStats(queued.get(), scheduler.running(), (double) b.usedBlocks() / b.totalBlocks(),
                b.usedBlocks(), b.totalBlocks(), scheduler.prefixQueriedTokens(), scheduler.prefixHitTokens(),
                promptTokensTotal, generationTokensTotal);
    }

    /** For tests: blocks referenced right now (read from another thread only when the engine is idle). */
    int usedBlocks() {
        return scheduler.blocks().usedBlocks();
    }
}
