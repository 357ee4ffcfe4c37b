package io.peregrine.engine.runtime;

import io.peregrine.engine.kv.BlockManager;
import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.model.LanguageModel;
import io.peregrine.engine.model.SequenceSlice;
import io.peregrine.engine.model.StepLogits;
import io.peregrine.engine.sched.ScheduledBatch;
import io.peregrine.engine.sched.Scheduler;
import io.peregrine.engine.sched.Sequence;
import io.peregrine.engine.spec.Drafter;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The serving engine: one platform thread owns the model, the cache and the scheduler and loops nano-vllm's step,
 * schedule → run → postprocess ({@link #step}); the request lifecycle (admit, fork, reap, finish, fail) is
 * {@link Requests}, what a step's logits become is {@link StepOutputs}. Other threads only enqueue submissions and
 * set abort flags; every sink and listener call happens on the engine thread.
 */
public final class ServingEngine implements InferenceEngine {
    private static final System.Logger LOG = System.getLogger(ServingEngine.class.getName());
    private static final Object WAKE = new Object();
    private static final long IDLE_POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

    private final LanguageModel model;
    private final LatentCache cache;
    private final EngineConfig config;
    private final EngineListener listener;
    private final Scheduler scheduler;
    private final Requests requests;
    private final StepOutputs outputs;
    /** null: no speculative decoding */
    private final Speculator speculator;
    private final int vocabSize;
    private final int hiddenSize;

    private final LinkedBlockingQueue<Object> inbox = new LinkedBlockingQueue<>();
    private final Thread thread;
    private volatile boolean accepting = true;
    private volatile boolean stopping;
    private volatile EngineStats stats;
    /** Engine thread: the last step had nothing computable. */
    private boolean idleStep;

    public ServingEngine(LanguageModel model, LatentCache cache, EngineConfig config, TokenDecoder decoder,
                         EngineListener listener) {
        this(model, cache, config, decoder, listener,
                config.speculative() == null ? null : config.speculative().drafter());
    }

    /**
     * An engine whose speculative decoding ({@link EngineConfig#speculative}, which sets k) drafts with
     * {@code drafter} instead of the configured method's (tests: an oracle drafter).
     */
    public ServingEngine(LanguageModel model, LatentCache cache, EngineConfig config, TokenDecoder decoder,
                         EngineListener listener, Drafter drafter) {
        this.model = model;
        this.cache = cache;
        this.config = config;
        this.listener = new GuardedListener(listener);
        this.scheduler = new Scheduler(config.scheduler(), new BlockManager(cache.numBlocks(), cache.blockSize()));
        this.vocabSize = model.config().vocabSize();
        this.hiddenSize = model.config().hiddenSize();
        this.speculator = config.speculative() == null ? null
                : new Speculator(drafter, config.speculative().numSpeculativeTokens(), vocabSize);
        this.requests = new Requests(model, cache, scheduler, this.listener, decoder, config.skipSpecialTokens(),
                speculator);
        this.outputs = new StepOutputs(requests, this.listener, config, vocabSize);
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
        if (requests.queued.incrementAndGet() > config.maxWaiting()) {
            requests.queued.decrementAndGet();
            throw new RejectedException(RejectedException.Kind.QUEUE_FULL,
                    "the waiting queue is full (" + config.maxWaiting() + " requests)");
        }
        long now = System.nanoTime();
        long deadline = Long.MAX_VALUE;
        if (request.deadline() != null) {
            deadline = now + Math.max(0, Duration.between(Instant.now(), request.deadline()).toNanos());
        }
        Admission a = new Admission(request, sink, now, deadline, () -> inbox.add(WAKE));
        requests.active.incrementAndGet();
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
        return new EngineStats(requests.queued.get(), s.running(), s.kvCacheUsage(), s.kvBlocksUsed(), s.kvBlocksTotal(),
                s.prefixCacheQueriedTokens(), s.prefixCacheHitTokens(), s.promptTokensTotal(),
                s.generationTokensTotal());
    }

    @Override
    public int maxModelLen() {
        return config.maxModelLen();
    }

    /** Requests submitted and not yet ended (queued or running). */
    public int activeRequests() {
        return requests.active.get();
    }

    @Override
    public void drain(long timeoutMillis) throws InterruptedException {
        accepting = false;
        if (Thread.currentThread() == thread) {
            throw new IllegalStateException("drain from the engine thread (a sink) would wait for itself");
        }
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        while (requests.active.get() > 0 && System.nanoTime() < end && thread.isAlive()) {
            Thread.sleep(2);
        }
        if (requests.active.get() > 0) {
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
                    requests.endAll(FinishReason.ABORT);
                    if (inbox.isEmpty()) {
                        stats = snapshot();
                        return;
                    }
                    continue;
                }
                requests.reap();
                if (scheduler.hasWork()) {
                    step();
                }
                stats = snapshot();
            } catch (InterruptedException e) {
                stopping = true;
            } catch (RuntimeException | Error e) {
                // A bug in bookkeeping must not leave clients hanging: fail everything and keep serving.
                LOG.log(System.Logger.Level.ERROR, "engine step failed", e);
                requests.failAll("internal engine error: " + e);
            }
        }
    }

    private void takeInbox() throws InterruptedException {
        Object first = null;
        if (requests.isEmpty() && !stopping) {
            first = inbox.poll(IDLE_POLL_NANOS, TimeUnit.NANOSECONDS);
        } else if (!scheduler.hasWork() && !stopping) {
            // Everything is queued behind a deadline or an abort: wake for those.
            first = inbox.poll(1, TimeUnit.MILLISECONDS);
        } else if (idleStep && !stopping) {
            // The last step had nothing computable (media rows still encoding): sleep until rows arrive, a
            // request comes or ends, or the nearest deadline.
            first = inbox.poll(Math.max(0, Math.min(IDLE_POLL_NANOS, requests.nearestDeadline() - System.nanoTime())),
                    TimeUnit.NANOSECONDS);
        }
        List<Object> items = new ArrayList<>();
        if (first != null) {
            items.add(first);
        }
        inbox.drainTo(items);
        for (Object o : items) {
            if (o instanceof Admission a) {
                requests.admit(a);
            }
        }
    }

    /** nano-vllm's step: schedule, run the model, postprocess its logits into each choice's next token. */
    private void step() {
        if (speculator != null) {
            speculator.propose(requests.live());
        }
        ScheduledBatch batch = scheduler.schedule();
        for (Sequence s : batch.preempted()) {
            listener.preempted(requests.choice(s).admission.requestId());
        }
        // Nothing computable and nothing preempted (which is re-admitted next step): every sequence waits for media
        // rows, so the next inbox take sleeps until rows, a request or an abort wake it.
        idleStep = batch.isEmpty() && batch.preempted().isEmpty();
        if (batch.isEmpty()) {
            return;
        }
        long t0 = System.nanoTime();
        StepLogits logits = run(batch, t0);
        if (logits == null) {
            return;
        }
        long forwardNanos = System.nanoTime() - t0;
        for (ScheduledBatch.Slice sl : batch.slices()) {
            if (sl.start() < sl.sequence().promptLength()) {
                listener.prefillChunk(requests.choice(sl.sequence()).admission.requestId(), sl.start(), sl.count(), t0,
                        forwardNanos);
            }
        }
        scheduler.completed(batch);
        outputs.postprocess(batch, logits);
        listener.step(batch.slices().size(), batch.tokens(), System.nanoTime() - t0);
    }

    /** The model over the scheduled slices; null (every request in the batch failed) when it throws. */
    private StepLogits run(ScheduledBatch batch, long now) {
        List<SequenceSlice> slices = new ArrayList<>(batch.slices().size());
        for (ScheduledBatch.Slice sl : batch.slices()) {
            Sequence s = sl.sequence();
            requests.markScheduled(requests.choice(s).admission, s, now);
            slices.add(new SequenceSlice(s.tokens(sl.start(), sl.start() + sl.count()), sl.start(),
                    s.blockTable().toArray(), s.drafts() > 0, s.inputEmbeddings(sl.start(), sl.start() + sl.count()),
                    sl.start() < s.promptLength()));
        }
        try {
            return model.step(slices, cache);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.ERROR, "forward pass failed", e);
            Set<Admission> hit = new LinkedHashSet<>();
            for (ScheduledBatch.Slice sl : batch.slices()) {
                hit.add(requests.choice(sl.sequence()).admission);
            }
            for (Admission a : hit) {
                requests.fail(a, "forward pass failed: " + e.getMessage());
            }
            return null;
        }
    }

    private EngineStats snapshot() {
        BlockManager b = scheduler.blocks();
        return new EngineStats(requests.queued.get(), scheduler.running(), (double) b.usedBlocks() / b.totalBlocks(),
                b.usedBlocks(), b.totalBlocks(), scheduler.prefixQueriedTokens(), scheduler.prefixHitTokens(),
                requests.promptTokensTotal, requests.generationTokensTotal);
    }

    /** For tests: blocks referenced right now (read from another thread only when the engine is idle). */
    int usedBlocks() {
        return scheduler.blocks().usedBlocks();
    }
}
