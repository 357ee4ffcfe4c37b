package io.peregrine.server.tracing;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import io.peregrine.engine.runtime.FinishReason;
import io.peregrine.engine.runtime.GenerationRequest;
import io.peregrine.engine.sample.SamplingParams;
import java.util.concurrent.TimeUnit;

/**
 * The spans of one traced request: the request span (arrival to last byte, the client's traceparent as parent)
 * and its children {@code queue}, {@code prefill_chunk} (one per forward pass that computed part of the prompt),
 * {@code decode} (first token to finish) and {@code media_encode} ({@link TracedVisionEncoder}). Attribute names
 * are vLLM's ({@code gen_ai.*}), so vLLM's trace queries work. The engine callbacks run on the engine thread, the
 * others on request threads or the event loop; the OpenTelemetry spans are thread-safe and each field here is
 * written by one thread.
 */
final class LiveTrace implements RequestTrace {
    static final AttributeKey<String> REQUEST_ID = AttributeKey.stringKey("gen_ai.request.id");
    static final AttributeKey<String> MODEL = AttributeKey.stringKey("gen_ai.response.model");
    static final AttributeKey<Long> MAX_TOKENS = AttributeKey.longKey("gen_ai.request.max_tokens");
    static final AttributeKey<Double> TEMPERATURE = AttributeKey.doubleKey("gen_ai.request.temperature");
    static final AttributeKey<Double> TOP_P = AttributeKey.doubleKey("gen_ai.request.top_p");
    static final AttributeKey<Long> N = AttributeKey.longKey("gen_ai.request.n");
    static final AttributeKey<Long> PROMPT_TOKENS = AttributeKey.longKey("gen_ai.usage.prompt_tokens");
    static final AttributeKey<Long> COMPLETION_TOKENS = AttributeKey.longKey("gen_ai.usage.completion_tokens");
    static final AttributeKey<Long> CACHED_TOKENS = AttributeKey.longKey("gen_ai.usage.cached_prompt_tokens");
    static final AttributeKey<Double> QUEUE = AttributeKey.doubleKey("gen_ai.latency.time_in_queue");
    static final AttributeKey<Double> TTFT = AttributeKey.doubleKey("gen_ai.latency.time_to_first_token");
    static final AttributeKey<Double> E2E = AttributeKey.doubleKey("gen_ai.latency.e2e");
    static final AttributeKey<String> FINISH = AttributeKey.stringKey("gen_ai.response.finish_reason");
    static final AttributeKey<Long> HTTP_STATUS = AttributeKey.longKey("http.response.status_code");
    static final AttributeKey<Long> CHUNK_START = AttributeKey.longKey("peregrine.prefill.start");
    static final AttributeKey<Long> CHUNK_TOKENS = AttributeKey.longKey("peregrine.prefill.tokens");

    private final Tracing tracing;
    private final Span request;
    private final Context context;
    private final long arrivalNanos;
    private volatile String requestId;
    private volatile long submittedNanos;
    // Engine thread only.
    private Span decode;

    LiveTrace(Tracing tracing, Span request, Context context, long arrivalNanos) {
        this.tracing = tracing;
        this.request = request;
        this.context = context;
        this.arrivalNanos = arrivalNanos;
    }

    @Override
    public Scope activate() {
        return context.makeCurrent();
    }

    @Override
    public void submitting(GenerationRequest r, String model) {
        requestId = r.requestId();
        submittedNanos = System.nanoTime(); // the engine's queue clock starts within microseconds of this
        SamplingParams p = r.sampling();
        request.setAttribute(REQUEST_ID, r.requestId());
        request.setAttribute(MODEL, model);
        request.setAttribute(MAX_TOKENS, p.maxTokens());
        request.setAttribute(TEMPERATURE, p.temperature());
        request.setAttribute(TOP_P, p.topP());
        request.setAttribute(N, p.n());
        request.setAttribute(PROMPT_TOKENS, r.promptLength());
        tracing.register(r.requestId(), this);
    }

    @Override
    public void answered(int status, boolean failedInStream) {
        if (requestId != null) {
            tracing.unregister(requestId, this);
        }
        long now = System.nanoTime();
        request.setAttribute(HTTP_STATUS, status);
        request.setAttribute(E2E, seconds(now - arrivalNanos));
        if (status >= 500 || failedInStream) {
            request.setStatus(StatusCode.ERROR);
        }
        request.end(tracing.epochNanos(now), TimeUnit.NANOSECONDS);
    }

    // ---- engine thread ----

    void scheduled(long queueNanos, int cachedPromptTokens) {
        long start = submittedNanos;
        child("queue", start).end(tracing.epochNanos(start + queueNanos), TimeUnit.NANOSECONDS);
        request.setAttribute(QUEUE, seconds(queueNanos));
        request.setAttribute(CACHED_TOKENS, cachedPromptTokens);
    }

    void prefillChunk(int start, int count, long forwardStartNanos, long forwardNanos) {
        child("prefill_chunk", forwardStartNanos).setAttribute(CHUNK_START, start).setAttribute(CHUNK_TOKENS, count)
                .end(tracing.epochNanos(forwardStartNanos + forwardNanos), TimeUnit.NANOSECONDS);
    }

    void firstToken(long ttftNanos, long now) {
        request.setAttribute(TTFT, seconds(ttftNanos));
        decode = child("decode", now);
    }

    void preempted() {
        request.addEvent("preempted");
    }

    void finished(FinishReason reason, int completionTokens, long now) {
        request.setAttribute(COMPLETION_TOKENS, completionTokens);
        request.setAttribute(FINISH, reason.name().toLowerCase(java.util.Locale.ROOT));
        if (decode != null) {
            decode.setAttribute(COMPLETION_TOKENS, completionTokens);
            decode.end(tracing.epochNanos(now), TimeUnit.NANOSECONDS);
            decode = null;
        }
    }

    void failed(String message, long now) {
        request.setStatus(StatusCode.ERROR, message);
        if (decode != null) {
            decode.end(tracing.epochNanos(now), TimeUnit.NANOSECONDS);
            decode = null;
        }
    }

    private Span child(String name, long startNanos) {
        return tracing.tracer().spanBuilder(name).setParent(context)
                .setStartTimestamp(tracing.epochNanos(startNanos), TimeUnit.NANOSECONDS).startSpan();
    }

    private static double seconds(long nanos) {
        return nanos / 1e9;
    }
}
