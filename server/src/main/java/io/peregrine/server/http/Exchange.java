package io.peregrine.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.AttributeKey;
import io.peregrine.server.tracing.RequestTrace;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * One HTTP request's way back to its client: a full response, or SSE headers, events and the end. Netty's
 * {@code writeAndFlush} is thread-safe and keeps order per caller, so this may be used from a request thread;
 * streamed events come from the channel's event loop.
 */
public final class Exchange {
    private static final byte[] DATA = "data: ".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] END = "\n\n".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] EVENT = "event: ".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] NEWLINE = "\n".getBytes(StandardCharsets.US_ASCII);

    private static final Runnable NOTHING = () -> {};
    private static final Consumer<HttpHeaders> NO_HEADERS = h -> {};
    /** Set on a connection whose current answer is a stream delimited by closing it (an HTTP/1.0 client). */
    public static final AttributeKey<Boolean> CLOSE_DELIMITED = AttributeKey.valueOf("peregrine.closeDelimited");

    private final Channel channel;
    private final boolean keepAlive;
    private final boolean http10;
    private final ObjectMapper mapper;
    private final AtomicBoolean answered = new AtomicBoolean();
    private final Runnable onAnswered;
    private final Consumer<HttpHeaders> extraHeaders;
    private volatile boolean streamClosesConnection;
    private volatile ErrorDialect dialect = ErrorDialect.OPENAI;
    private volatile RequestTrace trace = RequestTrace.NONE;
    private volatile int status;
    private volatile boolean failedInStream;

    public Exchange(Channel channel, boolean keepAlive, ObjectMapper mapper) {
        this(channel, keepAlive, mapper, NOTHING);
    }

    /**
     * @param onAnswered runs once, when the last byte of the response has been handed to the channel: the
     *                   connection may then start on the next pipelined request (responses must keep their order)
     */
    public Exchange(Channel channel, boolean keepAlive, ObjectMapper mapper, Runnable onAnswered) {
        this(channel, keepAlive, false, mapper, onAnswered);
    }

    /**
     * @param http10 the request was HTTP/1.0: keeping its connection open must then be said in the response
     *               ({@code Connection: keep-alive}), or the client waits for a close that never comes
     */
    public Exchange(Channel channel, boolean keepAlive, boolean http10, ObjectMapper mapper, Runnable onAnswered) {
        this(channel, keepAlive, http10, mapper, onAnswered, NO_HEADERS);
    }

    /** @param extraHeaders adds headers every response of this exchange carries (CORS) */
    public Exchange(Channel channel, boolean keepAlive, boolean http10, ObjectMapper mapper, Runnable onAnswered,
                    Consumer<HttpHeaders> extraHeaders) {
        this.extraHeaders = extraHeaders;
        this.channel = channel;
        this.keepAlive = keepAlive;
        this.http10 = http10;
        this.mapper = mapper;
        this.onAnswered = onAnswered;
    }

    /** Sets the error envelope of this exchange's answers (before anything is answered). */
    public void dialect(ErrorDialect d) {
        this.dialect = d;
    }

    /** The request's trace ({@link RequestTrace#NONE} unless tracing is on); ended when the answer is sent. */
    public void trace(RequestTrace t) {
        trace = t;
    }

    public RequestTrace trace() {
        return trace;
    }

    public Channel channel() {
        return channel;
    }

    /** Whether the request was HTTP/1.0 (no chunked encoding, no interim responses). */
    public boolean http10() {
        return http10;
    }

    public ObjectMapper mapper() {
        return mapper;
    }

    public byte[] toJson(Object value) {
        try {
            return mapper.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialize " + value.getClass().getSimpleName(), e);
        }
    }

    public void json(HttpResponseStatus status, Object body) {
        send(status, "application/json", toJson(body), 0);
    }

    public void error(ApiException e) {
        send(e.status(), "application/json", errorJson(e), e.retryAfterSeconds());
    }

    public byte[] errorJson(ApiException e) {
        return toJson(dialect.body(e));
    }

    public void text(HttpResponseStatus status, String contentType, String body) {
        send(status, contentType, body.getBytes(StandardCharsets.UTF_8), 0);
    }

    /** A 204 (a CORS preflight's answer): no body, so no Content-Length either (RFC 9110 8.6). */
    public void noContent(Consumer<HttpHeaders> headers) {
        FullHttpResponse resp = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.NO_CONTENT,
                Unpooled.EMPTY_BUFFER);
        headers.accept(resp.headers());
        connectionHeader(resp);
        finish(channel.writeAndFlush(resp));
    }

    /** A static file's bytes, with headers of its own (caching, content security policy). */
    public void file(String contentType, byte[] body, Consumer<HttpHeaders> headers) {
        send(HttpResponseStatus.OK, contentType, body, 0, headers);
    }

    private void send(HttpResponseStatus status, String contentType, byte[] body, int retryAfter) {
        send(status, contentType, body, retryAfter, NO_HEADERS);
    }

    private void send(HttpResponseStatus status, String contentType, byte[] body, int retryAfter,
                      Consumer<HttpHeaders> headers) {
        this.status = status.code();
        FullHttpResponse resp = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.wrappedBuffer(body));
        resp.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
        resp.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
        headers.accept(resp.headers());
        extraHeaders.accept(resp.headers());
        if (retryAfter > 0) {
            resp.headers().setInt(HttpHeaderNames.RETRY_AFTER, retryAfter);
        }
        if (status == HttpResponseStatus.UNAUTHORIZED) {
            resp.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer");
        }
        connectionHeader(resp);
        finish(channel.writeAndFlush(resp));
    }

    private void connectionHeader(HttpResponse resp) {
        if (keepAlive && http10) {
            resp.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
        } else if (!keepAlive) {
            resp.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        }
    }

    /** Sends the SSE response headers; the status is 200 from here on, errors go in-band. */
    public void startSse() {
        status = 200;
        HttpResponse resp = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        resp.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/event-stream; charset=utf-8");
        resp.headers().set(HttpHeaderNames.CACHE_CONTROL, HttpHeaderValues.NO_CACHE);
        // Proxies such as nginx would otherwise buffer the whole stream.
        resp.headers().set("X-Accel-Buffering", "no");
        extraHeaders.accept(resp.headers());
        if (http10) {
            // HTTP/1.0 has no chunked encoding (RFC 9112 6.1 forbids sending it to a 1.0 client) and a stream's
            // length is unknown up front: the body is delimited by closing the connection, as h11-based
            // servers (uvicorn's pure-Python protocol) do. The connection cannot be kept alive after it.
            streamClosesConnection = true;
            channel.attr(CLOSE_DELIMITED).set(Boolean.TRUE);
            resp.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        } else {
            HttpUtil.setTransferEncodingChunked(resp, true);
        }
        channel.writeAndFlush(resp);
    }

    /** One {@code data: <json>} event as a buffer, for callers that queue events under backpressure. */
    public static ByteBuf sseEvent(byte[] json) {
        return Unpooled.wrappedBuffer(DATA, json, END);
    }

    /**
     * A named event, {@code event: <name>} then {@code data: <json>}: the framing of APIs whose clients dispatch on
     * the event name (the Responses API, Anthropic's Messages stream).
     */
    public static ByteBuf sseEvent(String name, byte[] json) {
        return Unpooled.wrappedBuffer(EVENT, name.getBytes(StandardCharsets.US_ASCII), NEWLINE, DATA, json, END);
    }

    public void writeEvent(ByteBuf event) {
        channel.write(new DefaultHttpContent(event));
    }

    public void flush() {
        channel.flush();
    }

    /**
     * Sends an interim {@code 102 Processing} before the final response, and returns false where HTTP forbids one
     * (an HTTP/1.0 client, RFC 9110 15.2). HTTP/1.1 clients must read and may ignore 1xx responses; writing one is
     * how a server learns that a client which half-closed has in fact gone (its TCP stack answers with a reset).
     */
    public boolean interim() {
        if (http10) {
            return false;
        }
        channel.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.PROCESSING));
        return true;
    }

    /** Ends the chunked response, after OpenAI's {@code data: [DONE]} when {@code doneMarker}. */
    public void endSse(boolean doneMarker) {
        if (doneMarker) {
            channel.write(new DefaultHttpContent(sseEvent("[DONE]".getBytes(StandardCharsets.US_ASCII))));
        }
        finish(channel.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT));
    }

    /** Ends a stream that cannot continue with {@code event} (the API's in-band error), then closes the connection. */
    public void abortSse(ByteBuf event) {
        failedInStream = true;
        channel.write(new DefaultHttpContent(event));
        channel.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT).addListener(ChannelFutureListener.CLOSE);
        answered();
    }

    private void finish(ChannelFuture f) {
        if (!keepAlive || streamClosesConnection) {
            f.addListener(ChannelFutureListener.CLOSE);
        }
        answered();
    }

    private void answered() {
        if (answered.compareAndSet(false, true)) {
            trace.answered(status, failedInStream);
            onAnswered.run();
        }
    }
}
