package io.peregrine.server.http;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.util.ReferenceCountUtil;
import io.peregrine.server.auth.ApiKeys;
import java.util.function.Predicate;
import java.util.concurrent.TimeUnit;

/**
 * Checks the API key on the request head, before the body is aggregated: without it a client with no key could
 * make the server buffer a body up to the size limit on every connection it opens. A rejected request gets the
 * 401 at once; its body is dropped as it arrives and the connection closes when it ends (or after
 * {@link BodyLimit#LINGER_SECONDS}), so the client reads the 401 rather than a reset. Liveness stays open, as in
 * {@code app.ApiHandler}, which checks again on the full request. Per connection (not sharable).
 */
public final class AuthGate extends ChannelInboundHandlerAdapter {
    private static final CannedErrorBody UNAUTHORIZED = CannedErrorBody.of(ApiException.unauthorized());

    private final ApiKeys keys;
    private final CorsPolicy cors;
    private final Predicate<String> keyless;
    private boolean rejected;

    /** @param keyless paths beyond liveness that load without a key (the chat page's files) */
    public AuthGate(ApiKeys keys, CorsPolicy cors, Predicate<String> keyless) {
        this.keyless = keyless;
        this.keys = keys;
        this.cors = cors;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (rejected) {
            boolean last = msg instanceof LastHttpContent;
            ReferenceCountUtil.release(msg); // the rest of a rejected request, on its way to a closed connection
            if (last) {
                ctx.close();
            }
            return;
        }
        if (msg instanceof HttpRequest req && keys.required() && req.decoderResult().isSuccess()
                && !RequestQueue.of(ctx.channel()).busy() && !isPublic(req.uri())
                && !cors.isPreflight(req.method(), req.headers())
                && !keys.accepts(req.headers().get(HttpHeaderNames.AUTHORIZATION), req.headers().get("x-api-key"))) {
            rejected = true;
            ReferenceCountUtil.release(msg);
            byte[] body = UNAUTHORIZED.forUri(req.uri());
            FullHttpResponse resp = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.UNAUTHORIZED,
                    Unpooled.wrappedBuffer(body));
            resp.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json");
            resp.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
            resp.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer");
            resp.headers().set(HttpHeaderNames.CONNECTION, "close");
            // A browser page must be able to read the 401, not just a CORS failure.
            cors.addResponseHeaders(req.headers().get(HttpHeaderNames.ORIGIN), resp.headers());
            ctx.channel().attr(BodyLimit.LINGERING).set(Boolean.TRUE);
            if (msg instanceof LastHttpContent || HttpUtil.is100ContinueExpected(req)) {
                ctx.writeAndFlush(resp).addListener(ChannelFutureListener.CLOSE); // no body is coming
            } else {
                ctx.writeAndFlush(resp);
                ctx.executor().schedule(() -> {
                    ctx.close();
                }, BodyLimit.LINGER_SECONDS, TimeUnit.SECONDS);
            }
            return;
        }
        ctx.fireChannelRead(msg);
    }

    /** Liveness, and the chat page's files when it is on (it asks for the key and sends it on its API calls). */
    private boolean isPublic(String uri) {
        try {
            String path = new QueryStringDecoder(RequestTarget.originForm(uri)).path();
            return path.equals("/health") || path.equals("/v1/health/live") || keyless.test(path);
        } catch (IllegalArgumentException e) {
            return false; // not a valid target: let the router answer it
        }
    }
}
