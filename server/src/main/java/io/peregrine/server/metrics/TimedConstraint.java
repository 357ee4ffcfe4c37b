package io.peregrine.server.metrics;

import io.micrometer.core.instrument.Timer;
import io.peregrine.engine.runtime.TokenConstraint;
import java.util.concurrent.TimeUnit;

/** A choice's constraint whose masks are timed: what structured output costs the engine thread per step. */
final class TimedConstraint implements TokenConstraint {
    private final TokenConstraint inner;
    private final Timer timer;

    TimedConstraint(TokenConstraint inner, Timer timer) {
        this.inner = inner;
        this.timer = timer;
    }

    @Override
    public void mask(float[] logits) {
        long t0 = System.nanoTime();
        inner.mask(logits);
        timer.record(System.nanoTime() - t0, TimeUnit.NANOSECONDS);
    }

    /** The copy's masks (a speculating step's draft positions) are timed too. */
    @Override
    public TokenConstraint copy() {
        TokenConstraint c = inner.copy();
        return c == null ? null : new TimedConstraint(c, timer);
    }

    @Override
    public void accept(int tokenId) {
        inner.accept(tokenId);
    }
}
