package io.peregrine.server.stream;

import io.peregrine.server.http.ApiException;
import io.peregrine.server.http.Exchange;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.buffer.Unpooled;
import io.netty.util.AttributeKey;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import io.peregrine.api.common.Usage;
import io.peregrine.engine.runtime.EngineEvent;
import io.peregrine.engine.runtime.EventSink;
import io.peregrine.engine.runtime.FinishReason;
import io.peregrine.engine.runtime.GenerationRequest;
import io.peregrine.engine.runtime.InferenceEngine;
import io.peregrine.engine.runtime.RejectedException;
import io.peregrine.engine.runtime.RequestHandle;
import io.peregrine.server.metrics.ServerMetrics;
import java.util.ArrayDeque;
import java.util.List;
import java.util.logging.Logger;

/**
 * One submitted generation, from admission to the last byte: receives engine events on the engine thread,
 * hops them to the channel's event loop (where all of this object's state lives), and writes either SSE
 * chunks as they come or one JSON body at the end. A closed connection aborts the request wherever it is
 * (queued, prefilling, decoding), streaming or not.
 *
 * <p>Streaming follows channel writability: while the socket is not writable, chunks queue here; past
 * {@link #MAX_PENDING_BYTES} the client is too slow to keep up and the request is aborted.
 */
public abstract class GenerationCall implements EventSink {
    /** The call currently streaming on a channel, for writability notifications. */
    public static final AttributeKey<GenerationCall> ACTIVE = AttributeKey.valueOf("peregrine.activeCall");
    static final long MAX_PENDING_BYTES = 16L << 20;
    /** Set on a connection whose client has half-closed it (sent FIN after its request). */
    public static final AttributeKey<Boolean> INPUT_SHUT = AttributeKey.valueOf("peregrine.inputShut");
    /**
     * How often a half-closed connection is probed: a FIN is both "done sending" and "gone", and only a write
     * tells them apart (a gone client's TCP stack answers it with a reset, and the write after that fails).
     */
    static final long PROBE_NANOS = TimeUnit.MILLISECONDS.toNanos(200);
    private static final byte[] KEEP_ALIVE = ": keep-alive\n\n".getBytes(StandardCharsets.US_ASCII);
    private static final Logger LOG = Logger.getLogger(GenerationCall.class.getName());

    protected final Exchange exchange;
    protected final boolean stream;
    protected final String id;
    protected final String model;
    protected final long created;
    private final ServerMetrics metrics;
    private final long arrivalNanos;
    private final int choices;
    private final boolean includeUsage;

    private final long keepAliveNanos;
    private volatile RequestHandle handle;
    private ChannelFutureListener closeListener;
    private ScheduledFuture<?> keepAlive;
    private ScheduledFuture<?> probe;
    private long lastWriteNanos;
    // Event-loop confined from here on.
    private boolean headersSent;
    private boolean done;
    private int finishedChoices;
    private long lastTokenNanos;
    private boolean anyToken;
    private String lastFinishReason = "stop";
    protected int promptTokens;
    protected int cachedTokens;
    protected int completionTokens;
    private final ArrayDeque<ByteBuf> pending = new ArrayDeque<>();
    private long pendingBytes;

    /**
     * @param keepAliveNanos for streams: after this long without a write, an SSE comment is sent (and the
     *                       headers, if the request is still queued) so proxies and clients do not time out
     *                       during a long queue or prefill; 0 disables
     */
    protected GenerationCall(Exchange exchange, boolean stream, boolean includeUsage, String id, String model,
                             int choices, int promptTokens, ServerMetrics metrics, long arrivalNanos,
                             long keepAliveNanos) {
        this.exchange = exchange;
        this.stream = stream;
        this.includeUsage = includeUsage;
        this.id = id;
        this.model = model;
        this.created = System.currentTimeMillis() / 1000;
        this.choices = choices;
        this.promptTokens = promptTokens;
        this.metrics = metrics;
        this.arrivalNanos = arrivalNanos;
        this.keepAliveNanos = keepAliveNanos;
        this.lastWriteNanos = arrivalNanos;
    }

    /** Hands the request to the engine; a rejection becomes the matching HTTP error. */
    public final void submit(InferenceEngine engine, GenerationRequest request) throws ApiException {
        // Copying the request copies its prompt: only a constrained one is rebuilt, to time its masks.
        GenerationRequest timed = request.constraint() == null ? request
                : request.withConstraint(metrics.timed(request.constraint()));
        exchange.trace().submitting(timed, model);
        try {
            handle = engine.submit(timed, this);
        } catch (RejectedException e) {
            if (e.kind() == RejectedException.Kind.QUEUE_FULL) {
                metrics.queueRejected();
            }
            throw switch (e.kind()) {
                case QUEUE_FULL -> ApiException.queueFull("The server is at capacity: " + e.getMessage());
                case TOO_LARGE -> ApiException.invalid(e.getMessage(), null);
                case UNAVAILABLE -> ApiException.unavailable(e.getMessage(), "unavailable");
            };
        }
        Channel ch = exchange.channel();
        ch.eventLoop().execute(this::watchChannel);
    }

    private void watchChannel() {
        if (done) {
            return;
        }
        Channel ch = exchange.channel();
        closeListener = f -> {
            if (!done) {
                LOG.info("request " + id + ": client disconnected, aborting");
            }
            abort();
        };
        ch.closeFuture().addListener(closeListener);
        ch.attr(ACTIVE).set(this);
        if (stream && keepAliveNanos > 0) {
            keepAlive = ch.eventLoop().scheduleAtFixedRate(this::keepAliveTick, keepAliveNanos, keepAliveNanos,
                    TimeUnit.NANOSECONDS);
        }
        if (Boolean.TRUE.equals(ch.attr(INPUT_SHUT).get())) {
            inputShutdown();
        }
    }

    /**
     * The client half-closed the connection (on the event loop). The answer still goes out; meanwhile the
     * connection is probed, so a client that has gone is noticed (and its request aborted) within two probes:
     * an SSE comment (the API's keep-alive) once the stream has started, else an interim 102. An HTTP/1.0 client
     * may get no interim response, so there a FIN is taken as a hang-up, as before.
     */
    public final void inputShutdown() {
        if (done || probe != null) {
            return;
        }
        if (exchange.http10() && !(stream && headersSent)) {
            exchange.channel().close();
            return;
        }
        probe = exchange.channel().eventLoop().scheduleAtFixedRate(this::probeTick, PROBE_NANOS, PROBE_NANOS,
                TimeUnit.NANOSECONDS);
    }

    private void probeTick() {
        if (done) {
            return;
        }
        if (!stream || !headersSent) {
            exchange.interim();
        } else if (pending.isEmpty()) {
            exchange.channel().writeAndFlush(new DefaultHttpContent(keepAliveEvent()));
            lastWriteNanos = System.nanoTime();
        }
    }

    private void keepAliveTick() {
        if (done || System.nanoTime() - lastWriteNanos < keepAliveNanos || !pending.isEmpty()) {
            return;
        }
        ensureStarted();
        exchange.channel().writeAndFlush(new DefaultHttpContent(keepAliveEvent()));
        lastWriteNanos = System.nanoTime();
    }

    /** Cancels the request in the engine (idempotent). */
    public final void abort() {
        RequestHandle h = handle;
        if (h != null) {
            h.abort();
        }
    }

    @Override
    public final void accept(EngineEvent event) {
        exchange.channel().eventLoop().execute(() -> onEvent(event));
    }

    private void onEvent(EngineEvent event) {
        if (done) {
            return;
        }
        try {
            switch (event) {
                case EngineEvent.Scheduled s -> {
                    promptTokens = s.promptTokens();
                    cachedTokens = s.cachedPromptTokens();
                    metrics.queueTime(s.queueNanos());
                    ensureStarted();
                }
                case EngineEvent.Tokens t -> {
                    long now = System.nanoTime();
                    if (!anyToken) {
                        anyToken = true;
                        metrics.timeToFirstToken(now - arrivalNanos);
                    } else if (t.tokenIds().length > 0) {
                        long per = (now - lastTokenNanos) / t.tokenIds().length;
                        for (int i = 0; i < t.tokenIds().length; i++) {
                            metrics.interTokenLatency(per);
                        }
                    }
                    lastTokenNanos = now;
                    ensureStarted();
                    emit(onTokens(t));
                }
                case EngineEvent.Finished f -> {
                    ApiException aborted = f.reason() == FinishReason.ABORT && choices == 1 ? abortedError() : null;
                    if (aborted == null) {
                        ensureStarted();
                    }
                    completionTokens += f.completionTokens();
                    List<?> tail = onFinished(f);
                    lastFinishReason = finishReasonOf(f.choice());
                    if (aborted == null || headersSent) {
                        emit(tail); // an abort before the stream started is an error status: nothing else goes out
                    }
                    if (aborted != null) {
                        metrics.finished(lastFinishReason, System.nanoTime() - arrivalNanos, promptTokens,
                                completionTokens);
                        fail(aborted);
                    } else if (++finishedChoices == choices) {
                        complete();
                    }
                }
                // Media that failed to decode after submission are the client's: a 400, or an error event
                // when the stream has started.
                case EngineEvent.Failed f -> fail(f.invalidInput() ? ApiException.invalid(f.message(), "messages")
                        : ApiException.internal("Generation failed: " + f.message()));
            }
        } catch (RuntimeException e) {
            LOG.severe("request " + id + ": " + e);
            abort();
            fail(ApiException.internal("Internal error while generating: " + e.getClass().getSimpleName()));
        }
    }

    private void ensureStarted() {
        if (stream && !headersSent) {
            headersSent = true;
            exchange.startSse();
            emit(opening());
        }
    }

    private void emit(List<?> chunks) {
        if (!stream || chunks.isEmpty()) {
            return;
        }
        for (Object chunk : chunks) {
            ByteBuf event = sseEvent(chunk);
            pendingBytes += event.readableBytes();
            pending.add(event);
        }
        if (pendingBytes > MAX_PENDING_BYTES) {
            LOG.warning("request " + id + ": client reads too slowly, aborting");
            abort();
            done = true;
            release();
            unwatch();
            exchange.channel().close();
            return;
        }
        writePending();
    }

    /** Called on the event loop when the channel becomes writable again. */
    public final void onWritable() {
        if (!done) {
            writePending();
        }
    }

    private void writePending() {
        Channel ch = exchange.channel();
        boolean wrote = false;
        while (!pending.isEmpty() && ch.isWritable()) {
            ByteBuf b = pending.poll();
            pendingBytes -= b.readableBytes();
            exchange.writeEvent(b);
            wrote = true;
        }
        if (wrote) {
            exchange.flush();
            lastWriteNanos = System.nanoTime();
        }
    }

    private void complete() {
        done = true;
        Usage usage = Usage.of(promptTokens, cachedTokens, completionTokens, reasoningTokens());
        if (stream) {
            // The tail is bounded (MAX_PENDING_BYTES), so it is written out now rather than waiting on writability.
            for (Object chunk : closing(usage)) {
                pending.add(sseEvent(chunk));
            }
            while (!pending.isEmpty()) {
                exchange.writeEvent(pending.poll());
            }
            pendingBytes = 0;
            exchange.endSse(endsWithDone());
        } else {
            exchange.json(io.netty.handler.codec.http.HttpResponseStatus.OK, fullResponse(usage));
        }
        metrics.finished(lastFinishReason, System.nanoTime() - arrivalNanos, promptTokens, completionTokens);
        unwatch();
    }

    private void fail(ApiException e) {
        done = true;
        release();
        if (stream && headersSent) {
            exchange.abortSse(streamError(e));
        } else {
            exchange.error(e);
        }
        unwatch();
    }

    private void release() {
        while (!pending.isEmpty()) {
            pending.poll().release();
        }
        pendingBytes = 0;
    }

    private void unwatch() {
        Channel ch = exchange.channel();
        if (keepAlive != null) {
            keepAlive.cancel(false);
        }
        if (probe != null) {
            probe.cancel(false);
        }
        if (closeListener != null) {
            ch.closeFuture().removeListener(closeListener);
        }
        ch.attr(ACTIVE).compareAndSet(this, null);
    }

    public static String finishReason(FinishReason reason) {
        return switch (reason) {
            case STOP -> "stop";
            case LENGTH -> "length";
            case ABORT -> "abort";
            case TIMEOUT -> "timeout";
        };
    }

    /** One streamed chunk as an SSE event; OpenAI's unnamed {@code data:} events unless overridden. */
    protected ByteBuf sseEvent(Object chunk) {
        return Exchange.sseEvent(exchange.toJson(chunk));
    }

    /** The event that ends a started stream after an error; chat and completions send the OpenAI error body. */
    protected ByteBuf streamError(ApiException e) {
        return Exchange.sseEvent(exchange.errorJson(e));
    }

    /**
     * For an API with no word for an aborted generation (the server shutting down, a write stall): the error that
     * ends the reply instead of a normal ending (the stream's in-band error, or the error status when nothing was
     * sent yet). Null (chat and completions, whose finish_reason says {@code abort}) ends it normally.
     */
    protected ApiException abortedError() {
        return null;
    }

    /** What an idle stream is sent every keep-alive interval: an SSE comment unless overridden. */
    protected ByteBuf keepAliveEvent() {
        return Unpooled.wrappedBuffer(KEEP_ALIVE);
    }

    /** The chunks after the last choice has finished: the usage chunk when the client asked for it. */
    protected List<?> closing(Usage usage) {
        return includeUsage ? List.of(usageChunk(usage)) : List.of();
    }

    /** Whether the stream ends with OpenAI's {@code data: [DONE]} (chat and completions do; Responses and Messages not). */
    protected boolean endsWithDone() {
        return true;
    }

    /** The OpenAI finish_reason of a choice that {@link #onFinished} has just closed. */
    protected abstract String finishReasonOf(int choice);

    /** Chunks sent right after the headers (e.g. the assistant role). */
    protected abstract List<?> opening();

    /** Accumulates a step's tokens; returns the chunks to stream (ignored when not streaming). */
    protected abstract List<?> onTokens(EngineEvent.Tokens tokens);

    /** Closes a choice; returns its last chunks including the one carrying finish_reason. */
    protected abstract List<?> onFinished(EngineEvent.Finished finished);

    protected abstract int reasoningTokens();

    protected abstract Object usageChunk(Usage usage);

    protected abstract Object fullResponse(Usage usage);
}
