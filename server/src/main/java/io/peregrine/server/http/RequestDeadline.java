package io.peregrine.server.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.buffer.Unpooled;
import io.peregrine.api.error.ErrorBody;
import io.peregrine.api.error.ErrorResponse;
import io.peregrine.api.json.Json;
import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * A deadline for receiving one request, per connection: it starts with the first byte of a request and ends when
 * the whole request (head and body) has been aggregated. A client that trickles its headers or sends less body
 * than it announced (slowloris) gets a 408 and is disconnected, instead of holding a connection and a buffer
 * forever. Idle time between requests and the time spent answering are not counted: generations may take hours.
 *
 * <p>Two handlers share the state: {@link #bytesIn()} sits before the HTTP codec (it sees raw bytes arrive),
 * {@link #requestsOut()} after the aggregator (it sees complete requests leave).
 */
final class RequestDeadline {
    private static final Logger LOG = Logger.getLogger(RequestDeadline.class.getName());
    private static final byte[] BODY;

    static {
        try {
            BODY = Json.newMapper().writeValueAsBytes(new ErrorResponse(new ErrorBody(
                    "The request was not received in time; send the whole request at once", "invalid_request_error",
                    null, "request_timeout")));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private final long timeoutNanos;
    private ScheduledFuture<?> pending;

    RequestDeadline(Duration timeout) {
        this.timeoutNanos = timeout.toNanos();
    }

    ChannelHandler bytesIn() {
        return new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                if (pending == null && msg instanceof ByteBuf b && b.isReadable()) {
                    pending = ctx.executor().schedule(() -> expire(ctx), timeoutNanos, TimeUnit.NANOSECONDS);
                }
                ctx.fireChannelRead(msg);
            }

            @Override
            public void channelInactive(ChannelHandlerContext ctx) {
                cancel();
                ctx.fireChannelInactive();
            }
        };
    }

    ChannelHandler requestsOut() {
        return new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                if (msg instanceof FullHttpRequest) {
                    cancel();
                }
                ctx.fireChannelRead(msg);
            }
        };
    }

    private void cancel() {
        if (pending != null) {
            pending.cancel(false);
            pending = null;
        }
    }

    private void expire(ChannelHandlerContext ctx) {
        pending = null;
        if (!ctx.channel().isActive()) {
            return;
        }
        if (RequestQueue.of(ctx.channel()).busy()) {
            // An earlier request is still being answered (perhaps streamed); a 408 now would land inside its
            // response. The trickled request is looked at again later; the client is waiting on its own answer.
            pending = ctx.executor().schedule(() -> expire(ctx), timeoutNanos, TimeUnit.NANOSECONDS);
            return;
        }
        LOG.fine(() -> "closing " + ctx.channel().remoteAddress() + ": request not received within the deadline");
        FullHttpResponse resp = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.REQUEST_TIMEOUT,
                Unpooled.wrappedBuffer(BODY));
        resp.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json");
        resp.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, BODY.length);
        resp.headers().set(HttpHeaderNames.CONNECTION, "close");
        ctx.channel().writeAndFlush(resp).addListener(ChannelFutureListener.CLOSE);
    }
}
