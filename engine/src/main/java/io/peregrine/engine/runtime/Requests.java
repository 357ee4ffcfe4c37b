package io.peregrine.engine.runtime;

import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.model.LanguageModel;
import io.peregrine.engine.sched.MediaSpan;
import io.peregrine.engine.sched.PendingMedia;
import io.peregrine.engine.sched.Scheduler;
import io.peregrine.engine.sched.Sequence;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The request lifecycle on the engine thread: admit (a sequence and choice 0), fork the other choices of an
 * {@code n > 1} request, reap aborts, media failures and deadlines, and finish, end or fail a request, each exactly
 * once, with its events and metrics in order. The step loop ({@link ServingEngine}) asks it which choice a scheduled
 * sequence belongs to and tells it what each step produced ({@link StepOutputs}).
 */
final class Requests {
    private static final System.Logger LOG = System.getLogger(Requests.class.getName());

    private final LanguageModel model;
    private final LatentCache cache;
    private final Scheduler scheduler;
    private final EngineListener listener;
    private final TokenDecoder decoder;
    private final boolean skipSpecialText;
    /** null: no speculative decoding */
    private final Speculator speculator;
    /** Submitted and not yet scheduled; shared with the submitting threads (stats, the queue bound). */
    final AtomicInteger queued = new AtomicInteger();
    /** Submitted and not yet ended; shared with drain. */
    final AtomicInteger active = new AtomicInteger();

    private final Set<Admission> admissions = new LinkedHashSet<>();
    private final Map<Long, Choice> bySequence = new HashMap<>();
    private long nextSequenceId;
    long promptTokensTotal;
    long generationTokensTotal;

    Requests(LanguageModel model, LatentCache cache, Scheduler scheduler, EngineListener listener,
             TokenDecoder decoder, boolean skipSpecialText, Speculator speculator) {
        this.decoder = decoder;
        this.skipSpecialText = skipSpecialText;
        this.model = model;
        this.cache = cache;
        this.scheduler = scheduler;
        this.listener = listener;
        this.speculator = speculator;
    }

    /** Choice 0 of a new request: its sequence goes to the scheduler's waiting queue. */
    void admit(Admission a) {
        GenerationRequest r = a.request;
        int[] prompt = r.promptIds();
        long id = nextSequenceId++;
        Sequence s = new Sequence(id, prompt, id);
        if (!r.media().isEmpty() || r.pendingMedia() != null) {
            s.setMedia(r.media(), MediaSpan.blockHashes(r.media(), r.pendingMedia(), cache.blockSize()));
            s.setPendingMedia(r.pendingMedia());
        }
        Choice c = new Choice(a, 0, s, model.tokenCounts(prompt, prompt.length), decoder, skipSpecialText);
        a.choices.add(c);
        bySequence.put(s.id(), c);
        admissions.add(a);
        scheduler.add(s);
    }

    /** Ends what was aborted, failed its media or ran past its deadline. */
    void reap() {
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

    boolean isEmpty() {
        return admissions.isEmpty();
    }

    long nearestDeadline() {
        long d = Long.MAX_VALUE;
        for (Admission a : admissions) {
            d = Math.min(d, a.deadlineNanos);
        }
        return d;
    }

    /** Shutdown: every request ends with {@code reason}. */
    void endAll(FinishReason reason) {
        for (Admission a : List.copyOf(admissions)) {
            end(a, reason);
        }
    }

    /** After a bug in the step: every request fails, so no client hangs. */
    void failAll(String message) {
        for (Admission a : List.copyOf(admissions)) {
            try {
                fail(a, message);
            } catch (RuntimeException again) {
                LOG.log(System.Logger.Level.ERROR, "could not fail " + a.requestId(), again);
                admissions.remove(a);
            }
        }
    }

    Scheduler scheduler() {
        return scheduler;
    }

    /** The choices whose sequences are queued or running. */
    java.util.Collection<Choice> live() {
        return bySequence.values();
    }

    /** The choice a scheduled sequence belongs to (null once it finished). */
    Choice choice(Sequence s) {
        return bySequence.get(s.id());
    }

    /** The first time one of {@code a}'s sequences is scheduled: the queue wait ends. */
    void markScheduled(Admission a, Sequence s, long now) {
        if (a.scheduled) {
            return;
        }
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
    List<Choice> forkSiblings(Choice first) {
        Admission a = first.admission;
        a.forked = true;
        int n = a.request.sampling().n();
        List<Choice> ready = new ArrayList<>();
        for (int k = 1; k < n; k++) {
            Sequence child = scheduler.fork(first.sequence, nextSequenceId++, cache);
            Choice c = new Choice(a, k, child, first.penalties.copy(), decoder, skipSpecialText);
            a.choices.add(c);
            bySequence.put(child.id(), c);
            if (child.uncomputed() == 0) {
                ready.add(c);
            }
        }
        return ready;
    }

    void finishChoice(Choice c, FinishReason reason, StopReason stopReason) {
        Admission a = c.admission;
        release(c);
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
    void end(Admission a, FinishReason reason) {
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
            ChoiceOutput.Released last = ChoiceOutput.Released.NONE;
            if (c != null) {
                release(c);
                // a deadline releases what was held; an abort sends only what was released already
                c.output.finish(-1, reason, reason == FinishReason.TIMEOUT);
                last = c.output.take();
            }
            if (!last.isEmpty() || last.reasoningTokens() > 0) {
                emit(a, EngineEvent.Tokens.of(k, new int[0], List.of(), last));
            }
            emit(a, new EngineEvent.Finished(k, reason, null, c == null ? 0 : c.sequence.generated()));
        }
        a.finishedChoices = n;
        a.lastReason = reason;
        retire(a);
    }

    void fail(Admission a, String message) {
        fail(a, message, false);
    }

    void fail(Admission a, String message, boolean invalidInput) {
        if (a.ended) {
            return;
        }
        for (Choice c : a.choices) {
            if (!c.done) {
                release(c);
            }
        }
        listener.failed(a.requestId(), message);
        emit(a, new EngineEvent.Failed(a.requestId(), message, invalidInput));
        retire(a);
    }

    /** The choice is done: its sequence leaves the scheduler (its blocks are freed) and the drafter. */
    private void release(Choice c) {
        c.done = true;
        scheduler.finish(c.sequence);
        bySequence.remove(c.sequence.id());
        if (speculator != null) {
            speculator.finished(c.sequence);
        }
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

    void emit(Admission a, EngineEvent event) {
        try {
            a.sink.accept(event);
        } catch (RuntimeException e) {
            // A broken sink means nobody is listening: stop spending compute on the request.
            LOG.log(System.Logger.Level.WARNING, "event sink of " + a.requestId() + " failed; aborting it", e);
            a.abortRequested = true;
        }
    }
}
