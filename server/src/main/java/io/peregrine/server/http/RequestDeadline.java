package io.peregrine.server.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.buffer.Unpooled;
import io.peregrine.api.error.ErrorBody;
import io.peregrine.api.error.ErrorResponse;
import io.peregrine.api.json.Json;
import io.netty.handler.timeout.IdleStateEvent;
import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * Deadlines for receiving one request, per connection, as nginx's client_header_timeout and client_body_timeout:
 * the head must be complete within the timeout of its first byte, and while the body arrives no silence may last
 * longer than the timeout (a large upload on a slow link keeps going as long as it moves). A client that trickles
 * its headers or stops sending the body it announced (slowloris) gets a 408 and is disconnected, instead of
 * holding a connection and a buffer forever. Idle time between requests and the time spent answering are not
 * counted: generations may take hours.
 *
 * <p>Two handlers share the state: {@link #bytesIn()} sits before the HTTP codec (it sees raw bytes arrive),
 * {@link #requestsOut()} right after it (it sees where a request's head and body end).
 */
public final class RequestDeadline {
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

    private enum Phase { IDLE, HEAD, BODY }

    private final long timeoutNanos;
    private ScheduledFuture<?> pending;
    private Phase phase = Phase.IDLE;

    public RequestDeadline(Duration timeout) {
        this.timeoutNanos = timeout.toNanos();
    }

    /**
     * Closes the connection on an {@link IdleStateEvent} (no traffic either way for the idle timeout) when it has
     * nothing to do: no request arriving, none being answered. A long non-streamed generation is silent too, so
     * the request queue decides, not the silence alone. Sits after an {@link io.netty.handler.timeout.IdleStateHandler}.
     */
    public ChannelHandler idleCloser() {
        return new ChannelInboundHandlerAdapter() {
            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
                if (evt instanceof IdleStateEvent && phase == Phase.IDLE && !RequestQueue.of(ctx.channel()).busy()) {
                    LOG.fine(() -> "closing idle connection " + ctx.channel().remoteAddress());
                    ctx.close();
                    return;
                }
                super.userEventTriggered(ctx, evt);
            }
        };
    }

    public ChannelHandler bytesIn() {
        return new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                if (msg instanceof ByteBuf b && b.isReadable()) {
                    if (phase == Phase.IDLE) {
                        phase = Phase.HEAD;
                        arm(ctx);
                    } else if (phase == Phase.BODY) {
                        arm(ctx); // the body moves: the silence allowed starts again
                    }
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

    public ChannelHandler requestsOut() {
        return new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                if (msg instanceof LastHttpContent) {
                    phase = Phase.IDLE;
                    cancel();
                } else if (msg instanceof HttpRequest) {
                    phase = Phase.BODY;
                }
                ctx.fireChannelRead(msg);
            }
        };
    }

    private void arm(ChannelHandlerContext ctx) {
        cancel();
        pending = ctx.executor().schedule(() -> expire(ctx), timeoutNanos, TimeUnit.NANOSECONDS);
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
        if (Boolean.TRUE.equals(ctx.channel().attr(BodyLimit.LINGERING).get())) {
            ctx.close(); // already answered 413; a second answer would be noise
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
