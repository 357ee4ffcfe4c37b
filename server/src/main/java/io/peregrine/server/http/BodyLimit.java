package io.peregrine.server.http;

import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.buffer.Unpooled;
import io.peregrine.api.error.ErrorBody;
import io.peregrine.api.error.ErrorResponse;
import io.peregrine.api.json.Json;

/**
 * Netty's aggregator with an OpenAI error body for the 413 it sends on an oversized request. The connection
 * is closed afterwards because the rest of the body is never read.
 */
final class BodyLimit extends HttpObjectAggregator {
    private final byte[] body;

    BodyLimit(int maxBytes) {
        super(maxBytes, true);
        ApiException e = ApiException.tooLarge(maxBytes);
        try {
            this.body = Json.newMapper().writeValueAsBytes(
                    new ErrorResponse(new ErrorBody(e.getMessage(), e.type(), e.param(), e.code())));
        } catch (com.fasterxml.jackson.core.JsonProcessingException ex) {
            throw new IllegalStateException(ex);
        }
    }

    @Override
    protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
        FullHttpResponse resp = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                io.netty.handler.codec.http.HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, Unpooled.wrappedBuffer(body));
        resp.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json");
        resp.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
        resp.headers().set(HttpHeaderNames.CONNECTION, "close");
        ctx.writeAndFlush(resp).addListener(ChannelFutureListener.CLOSE);
    }
}
