package io.peregrine.engine.runtime;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** A sink that records one request's events and lets a test wait for its end. */
final class Recorder implements EventSink {
    private final int choices;
    private final List<EngineEvent> events = new ArrayList<>();
    private final CountDownLatch done = new CountDownLatch(1);
    private int finished;
    volatile Thread callingThread;

    Recorder(int choices) {
        this.choices = choices;
    }

    @Override
    public synchronized void accept(EngineEvent e) {
        callingThread = Thread.currentThread();
        if (done.getCount() == 0) {
            throw new AssertionError("event after the end: " + e);
        }
        events.add(e);
        if (e instanceof EngineEvent.Finished) {
            finished++;
        }
        if (e instanceof EngineEvent.Failed || finished == choices) {
            done.countDown();
        }
    }

    Recorder await() throws InterruptedException {
        return await(20);
    }

    /** Waits up to {@code seconds} (benchmarks on large checkpoints). */
    Recorder await(long seconds) throws InterruptedException {
        if (!done.await(seconds, TimeUnit.SECONDS)) {
            throw new AssertionError("request did not end; events so far: " + events());
        }
        return this;
    }

    boolean isDone() {
        return done.getCount() == 0;
    }

    synchronized List<EngineEvent> events() {
        return List.copyOf(events);
    }

    int[] tokens(int choice) {
        return events().stream()
                .filter(e -> e instanceof EngineEvent.Tokens t && t.choice() == choice)
                .flatMapToInt(e -> java.util.Arrays.stream(((EngineEvent.Tokens) e).tokenIds()))
                .toArray();
    }

    String text(int choice) {
        StringBuilder sb = new StringBuilder();
        for (EngineEvent e : events()) {
            if (e instanceof EngineEvent.Tokens t && t.choice() == choice) {
                sb.append(t.text());
            }
        }
        return sb.toString();
    }

    EngineEvent.Finished finished(int choice) {
        return events().stream()
                .filter(e -> e instanceof EngineEvent.Finished f && f.choice() == choice)
                .map(e -> (EngineEvent.Finished) e)
                .findFirst()
                .orElseThrow(() -> new AssertionError("no Finished for choice " + choice + ": " + events()));
    }

    EngineEvent.Scheduled scheduled() {
        return events().stream()
                .filter(e -> e instanceof EngineEvent.Scheduled)
                .map(e -> (EngineEvent.Scheduled) e)
                .findFirst()
                .orElseThrow(() -> new AssertionError("no Scheduled: " + events()));
    }
}
