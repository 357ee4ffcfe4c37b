package io.peregrine.server.tracing;

import io.netty.handler.codec.http.HttpHeaders;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.SpanProcessor;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import io.peregrine.engine.runtime.EngineListener;
import io.peregrine.engine.runtime.FinishReason;
import io.peregrine.engine.vision.encoder.VisionEncoder;
import java.net.URI;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Request tracing with OpenTelemetry, exported by OTLP when {@code --otlp-traces-endpoint} is set (vLLM's flag).
 * Off ({@link #off()}) every hook is a constant no-op: requests get {@link RequestTrace#NONE}, the engine listener is
 * {@link EngineListener#NONE}, the vision encoder and media threads are returned unwrapped, nothing is allocated.
 * On, each generation request gets a span whose parent is the client's W3C {@code traceparent}, if it sent one.
 */
public final class Tracing implements AutoCloseable {
    private static final TextMapGetter<HttpHeaders> HEADERS = new TextMapGetter<>() {
        @Override
        public Iterable<String> keys(HttpHeaders carrier) {
            return carrier.names();
        }

        @Override
        public String get(HttpHeaders carrier, String key) {
            return carrier == null ? null : carrier.get(key);
        }
    };
    private static final Tracing OFF = new Tracing(null, null);

    private final SdkTracerProvider provider;
    private final Tracer tracer;
    private final ConcurrentHashMap<String, LiveTrace> live = new ConcurrentHashMap<>();
    // Spans take explicit times: the engine reports System.nanoTime instants, mapped to the epoch by one anchor.
    private final long anchorEpochNanos;
    private final long anchorNanoTime;
    private final EngineListener engineListener;

    private Tracing(SdkTracerProvider provider, Tracer tracer) {
        this.provider = provider;
        this.tracer = tracer;
        Instant now = Instant.now();
        this.anchorNanoTime = System.nanoTime();
        this.anchorEpochNanos = now.getEpochSecond() * 1_000_000_000L + now.getNano();
        this.engineListener = tracer == null ? EngineListener.NONE : new SpanListener();
    }

    /** No tracing: the default. */
    public static Tracing off() {
        return OFF;
    }

    /**
     * Spans exported in batches by OTLP over HTTP (protobuf) to {@code endpoint}: a full URL, or a collector's base
     * URL ({@code http://host:4318}) to which {@code /v1/traces} is added.
     */
    public static Tracing otlp(String endpoint, String serviceName) {
        URI uri = URI.create(endpoint);
        if (uri.getScheme() == null || !(uri.getScheme().equals("http") || uri.getScheme().equals("https"))
                || uri.getHost() == null) {
            throw new IllegalArgumentException("--otlp-traces-endpoint must be an http(s) URL such as "
                    + "http://localhost:4318/v1/traces, got " + endpoint);
        }
        String path = uri.getPath();
        String url = path == null || path.isEmpty() || path.equals("/") ? endpoint.replaceAll("/+$", "") + "/v1/traces"
                : endpoint;
        return using(BatchSpanProcessor.builder(OtlpHttpSpanExporter.builder().setEndpoint(url).build()).build(),
                serviceName);
    }

    /** Spans handed to {@code processor} (tests: a simple processor over an in-memory exporter). */
    public static Tracing using(SpanProcessor processor, String serviceName) {
        SdkTracerProvider provider = SdkTracerProvider.builder()
                .setResource(Resource.getDefault().merge(Resource.create(
                        Attributes.of(AttributeKey.stringKey("service.name"), serviceName))))
                .addSpanProcessor(processor).build();
        return new Tracing(provider, provider.get("io.peregrine.server"));
    }

    public boolean enabled() {
        return tracer != null;
    }

    /** The trace of a generation request that arrived at {@code arrivalNanos} with {@code headers}. */
    public RequestTrace begin(String route, HttpHeaders headers, long arrivalNanos) {
        if (tracer == null) {
            return RequestTrace.NONE;
        }
        Context parent = W3CTraceContextPropagator.getInstance().extract(Context.root(), headers, HEADERS);
        Span span = tracer.spanBuilder("llm_request").setParent(parent).setSpanKind(SpanKind.SERVER)
                .setStartTimestamp(epochNanos(arrivalNanos), TimeUnit.NANOSECONDS)
                .setAttribute("http.route", route).startSpan();
        return new LiveTrace(this, span, parent.with(span), arrivalNanos);
    }

    /** Queue, prefill-chunk and decode spans of traced requests; {@link EngineListener#NONE} when off. */
    public EngineListener engineListener() {
        return engineListener;
    }

    /** {@code encoder} with a {@code media_encode} span per item under the current request's span; itself when off. */
    public VisionEncoder traced(VisionEncoder encoder) {
        return tracer == null ? encoder : new TracedVisionEncoder(encoder, this);
    }

    /** {@code threads} carrying the submitting thread's trace context into its tasks; itself when off. */
    public ExecutorService propagating(ExecutorService threads) {
        return tracer == null ? threads : Context.taskWrapping(threads);
    }

    Tracer tracer() {
        return tracer;
    }

    long epochNanos(long nanoTime) {
        return anchorEpochNanos + (nanoTime - anchorNanoTime);
    }

    void register(String requestId, LiveTrace trace) {
        live.put(requestId, trace);
    }

    void unregister(String requestId, LiveTrace trace) {
        live.remove(requestId, trace);
    }

    /** Requests whose engine spans are still expected (for tests: none are left once every answer is sent). */
    List<String> liveRequests() {
        return List.copyOf(live.keySet());
    }

    /** Exports what is buffered and stops the exporter. */
    @Override
    public void close() {
        if (provider != null) {
            provider.shutdown().join(10, TimeUnit.SECONDS);
        }
    }

    /** Engine-thread callbacks routed to the traced request they name; untraced requests are not in the map. */
    private final class SpanListener implements EngineListener {
        @Override
        public void scheduled(String requestId, long queueNanos, int promptTokens, int cachedPromptTokens) {
            LiveTrace t = live.get(requestId);
            if (t != null) {
                t.scheduled(queueNanos, cachedPromptTokens);
            }
        }

        @Override
        public void prefillChunk(String requestId, int start, int count, long forwardStartNanos, long forwardNanos) {
            LiveTrace t = live.get(requestId);
            if (t != null) {
                t.prefillChunk(start, count, forwardStartNanos, forwardNanos);
            }
        }

        @Override
        public void firstToken(String requestId, long ttftNanos) {
            LiveTrace t = live.get(requestId);
            if (t != null) {
                t.firstToken(ttftNanos, System.nanoTime());
            }
        }

        @Override
        public void preempted(String requestId) {
            LiveTrace t = live.get(requestId);
            if (t != null) {
                t.preempted();
            }
        }

        @Override
        public void finished(String requestId, FinishReason lastReason, int promptTokens, int completionTokens,
                             long e2eNanos) {
            LiveTrace t = live.get(requestId);
            if (t != null) {
                t.finished(lastReason, completionTokens, System.nanoTime());
            }
        }

        @Override
        public void failed(String requestId, String message) {
            LiveTrace t = live.get(requestId);
            if (t != null) {
                t.failed(message, System.nanoTime());
            }
        }
    }
}
