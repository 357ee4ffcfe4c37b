package io.peregrine.engine.runtime;

import io.peregrine.engine.sample.PenaltyState;
import io.peregrine.engine.sample.StopStrings;
import io.peregrine.engine.sched.Sequence;
import java.util.SplittableRandom;

/** One choice of a request: its sequence and what sampling and stop checking remember about it. */
final class Choice {
    final Admission request;
    final int index;
    final Sequence sequence;
    final PenaltyState penalties;
    final SplittableRandom rng;
    final StopStrings text;
    long lastTokenNanos;
    boolean done;

    Choice(Admission request, int index, Sequence sequence, PenaltyState penalties) {
        this.request = request;
        this.index = index;
        this.sequence = sequence;
        this.penalties = penalties;
        Long seed = request.request.sampling().seed();
        // Each choice draws from its own stream, so neither batch-mates nor sibling choices shift it.
        this.rng = seed == null ? new SplittableRandom() : new SplittableRandom(seed + 0x9E3779B97F4A7C15L * index);
        this.text = new StopStrings(request.request.sampling().stop());
    }
}
