package io.peregrine.engine.sched;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Media spans of a request whose rows arrive after it was submitted (the chunks of a long video still being
 * encoded): where each sits in the prompt and its content hash are known up front, so the prompt, its length and
 * its prefix-cache keys are fixed at submission; a producer then {@linkplain #complete completes} the spans in
 * prompt order while the engine prefills everything before the first span still missing.
 *
 * <p>Thread-safe hand-over: one producer thread writes (complete, fail), the engine thread reads (readiness,
 * rows, failure) and cancels when the request ends for any reason. A completed span's rows are published by the
 * volatile count written after them, so a reader that sees the count sees the rows.
 */
public final class PendingMedia {

    /** One span before its rows exist: prompt positions {@code start .. start + tokens - 1}. */
    public record Slot(int start, int tokens, long contentHash) {
        public Slot {
            if (start < 0 || tokens < 1) {
                throw new IllegalArgumentException("a pending media span needs start >= 0 and tokens >= 1; got start "
                        + start + ", tokens " + tokens);
            }
        }

        public int end() {
            return start + tokens;
        }
    }

    /**
     * Why the producer gave up.
     *
     * @param invalidInput the media themselves are bad (corrupt mid-stream, over a limit): the client's fault
     */
    public record Failure(String message, boolean invalidInput) {}

    private final int hidden;
    private final List<Slot> slots;
    private final MediaSpan[] spans;
    private volatile int completed;
    private volatile Failure failure;
    private volatile boolean cancelled;
    private final List<Runnable> progressListeners = new CopyOnWriteArrayList<>();
    private final List<Runnable> cancelListeners = new CopyOnWriteArrayList<>();

    /** @param slots sorted and disjoint (checked again against the prompt at submission) */
    public PendingMedia(int hidden, List<Slot> slots) {
        if (hidden < 1) {
            throw new IllegalArgumentException("hidden size must be positive, got " + hidden);
        }
        if (slots.isEmpty()) {
            throw new IllegalArgumentException("no pending media spans");
        }
        this.hidden = hidden;
        this.slots = List.copyOf(slots);
        for (int i = 1; i < this.slots.size(); i++) {
            if (this.slots.get(i).start() < this.slots.get(i - 1).end()) {
                throw new IllegalArgumentException("pending media span " + i + " starts at " + this.slots.get(i).start()
                        + ", inside or before the previous one (ends at " + this.slots.get(i - 1).end() + ")");
            }
        }
        this.spans = new MediaSpan[this.slots.size()];
    }

    public int hidden() {
        return hidden;
    }

    public List<Slot> slots() {
        return slots;
    }

    // ---- producer side ----

    /**
     * Hands over the rows of span {@code index}, which must be the next one in order. Ignored once the request
     * has ended (cancelled) or failed.
     *
     * @throws IllegalStateException    out of order
     * @throws IllegalArgumentException rows of the wrong size
     */
    public synchronized void complete(int index, float[] rows) {
        if (cancelled || failure != null) {
            return;
        }
        if (index != completed) {
            throw new IllegalStateException("pending media span " + index + " completed out of order; next is "
                    + completed);
        }
        Slot s = slots.get(index);
        spans[index] = new MediaSpan(s.start(), s.tokens(), hidden, rows, s.contentHash());
        completed = index + 1; // volatile write after the array write: publishes the span
        runAll(progressListeners);
    }

    /** The producer cannot deliver the remaining spans; the engine ends the request with this failure. */
    public synchronized void fail(String message, boolean invalidInput) {
        if (cancelled || failure != null || completed == slots.size()) {
            return;
        }
        failure = new Failure(message, invalidInput);
        runAll(progressListeners);
    }

    /** True once the request ended: the producer should stop and release what it holds. */
    public boolean isCancelled() {
        return cancelled;
    }

    /** Runs {@code r} when the request ends before every span was delivered (at once if it already has). */
    public void onCancel(Runnable r) {
        cancelListeners.add(r);
        if (cancelled && cancelListeners.remove(r)) {
            r.run();
        }
    }

    // ---- engine side ----

    /** Runs {@code r} (quick, thread-safe) after every completion and on failure: the engine wakes to look. */
    public void onProgress(Runnable r) {
        progressListeners.add(r);
    }

    /** The request ended (finished, aborted, timed out, failed): tells the producer to stop. Idempotent. */
    public void cancel() {
        synchronized (this) {
            if (cancelled) {
                return;
            }
            cancelled = true;
        }
        for (Runnable r : cancelListeners) {
            if (cancelListeners.remove(r)) {
                r.run();
            }
        }
    }

    public int completedCount() {
        return completed;
    }

    public boolean isComplete() {
        return completed == slots.size();
    }

    /** Null while the producer is fine. */
    public Failure failure() {
        return failure;
    }

    /**
     * The first position at or after {@code from} that cannot be computed yet: the start of the first span that
     * is still missing and ends after {@code from} ({@code from} itself when it lies inside one), or
     * {@link Integer#MAX_VALUE} when nothing from {@code from} on is missing.
     */
    public int readyEnd(int from) {
        for (int i = completed; i < slots.size(); i++) {
            Slot s = slots.get(i);
            if (s.end() > from) {
                return Math.max(from, s.start());
            }
        }
        return Integer.MAX_VALUE;
    }

    /** The spans delivered so far, in order. */
    public List<MediaSpan> completedSpans() {
        int n = completed;
        List<MediaSpan> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            out.add(spans[i]);
        }
        return out;
    }

    private static void runAll(List<Runnable> listeners) {
        for (Runnable r : listeners) {
            r.run();
        }
    }
}
