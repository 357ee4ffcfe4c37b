package io.peregrine.server.metrics;

import io.micrometer.core.instrument.Timer;
import io.peregrine.engine.vision.encoder.VisionEmbeddings;
import io.peregrine.engine.vision.encoder.VisionEncoder;
import io.peregrine.engine.vision.preprocess.PreprocessedImage;
import java.util.concurrent.TimeUnit;

/** The vision encoder with each item's encode timed (cache hits never reach it, so they are not counted). */
final class TimedVisionEncoder implements VisionEncoder {
    private final VisionEncoder inner;
    private final Timer timer;

    TimedVisionEncoder(VisionEncoder inner, Timer timer) {
        this.inner = inner;
        this.timer = timer;
    }

    @Override
    public VisionEmbeddings encode(PreprocessedImage image) {
        long t0 = System.nanoTime();
        try {
            return inner.encode(image);
        } finally {
            timer.record(System.nanoTime() - t0, TimeUnit.NANOSECONDS);
        }
    }

    @Override
    public int outputHidden() {
        return inner.outputHidden();
    }

    @Override
    public void close() {
        inner.close();
    }
}
