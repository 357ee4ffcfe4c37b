package io.peregrine.server.http;

import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;
import java.util.concurrent.TimeUnit;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.HttpRequest;

/**
 * Netty's aggregator with an OpenAI error body for the 413 it sends on an oversized request. The connection is
 * closed afterwards, but not at once: a client still sending its body would get a TCP reset that destroys the
 * 413 before it reads it (it sees "connection reset" or "broken pipe" instead of the reason). So the rest of the
 * body is read and dropped, and the connection closes when it ends or after {@link #LINGER_SECONDS}, whichever
 * comes first (nginx's lingering close).
 */
public final class BodyLimit extends HttpObjectAggregator {
    /** Set on a connection that has been answered 413 and only waits to be closed. */
    static final AttributeKey<Boolean> LINGERING = AttributeKey.valueOf("peregrine.lingering");
    static final int LINGER_SECONDS = 5;

    private final CannedErrorBody tooLarge;

    public BodyLimit(int maxBytes) {
        super(maxBytes, true);
        this.tooLarge = CannedErrorBody.of(ApiException.tooLarge(maxBytes));
    }

    @Override
    protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
        byte[] body = oversized instanceof HttpRequest req ? tooLarge.forUri(req.uri()) : tooLarge.openai();
        FullHttpResponse resp = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                io.netty.handler.codec.http.HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, Unpooled.wrappedBuffer(body));
        resp.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json");
        resp.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
        resp.headers().set(HttpHeaderNames.CONNECTION, "close");
        ctx.channel().attr(LINGERING).set(Boolean.TRUE);
        if (HttpUtil.is100ContinueExpected(oversized)) {
            ctx.writeAndFlush(resp).addListener(ChannelFutureListener.CLOSE); // the body will not come
            return;
        }
        ctx.writeAndFlush(resp);
        ctx.executor().schedule(() -> {
            ctx.close();
        }, LINGER_SECONDS, TimeUnit.SECONDS);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        if (Boolean.TRUE.equals(ctx.channel().attr(LINGERING).get())) {
            boolean last = msg instanceof LastHttpContent;
            ReferenceCountUtil.release(msg); // the rest of the oversized body, or anything after it
            if (last) {
                ctx.close();
            }
            return;
        }
        super.channelRead(ctx, msg);
    }
}
