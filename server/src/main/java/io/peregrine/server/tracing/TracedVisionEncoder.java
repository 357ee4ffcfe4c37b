package io.peregrine.server.tracing;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.context.Context;
import java.util.concurrent.TimeUnit;
import io.peregrine.engine.vision.encoder.VisionEmbeddings;
import io.peregrine.engine.vision.encoder.VisionEncoder;
import io.peregrine.engine.vision.preprocess.PreprocessedImage;

/**
 * A {@code media_encode} span around each vision item's encode, child of the request span current on the calling
 * thread (the media threads carry it: {@link Tracing#propagating}); an encode with no request span around it (an
 * encoder-cache warm-up) is not traced.
 */
final class TracedVisionEncoder implements VisionEncoder {
    private static final AttributeKey<Long> TOKENS = AttributeKey.longKey("peregrine.media.tokens");
    private final VisionEncoder inner;
    private final Tracing tracing;

    TracedVisionEncoder(VisionEncoder inner, Tracing tracing) {
        this.inner = inner;
        this.tracing = tracing;
    }

    @Override
    public VisionEmbeddings encode(PreprocessedImage image) {
        Context current = Context.current();
        if (!Span.fromContext(current).getSpanContext().isValid()) {
            return inner.encode(image);
        }
        Span span = tracing.tracer().spanBuilder("media_encode").setParent(current)
                .setStartTimestamp(tracing.epochNanos(System.nanoTime()), TimeUnit.NANOSECONDS).startSpan();
        try {
            VisionEmbeddings out = inner.encode(image);
            span.setAttribute(TOKENS, out.tokens());
            return out;
        } catch (RuntimeException e) {
            span.setStatus(StatusCode.ERROR, String.valueOf(e.getMessage()));
            throw e;
        } finally {
            span.end(tracing.epochNanos(System.nanoTime()), TimeUnit.NANOSECONDS);
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
