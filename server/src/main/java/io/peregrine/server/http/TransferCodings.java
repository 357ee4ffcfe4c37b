package io.peregrine.server.http;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * RFC 9112 6.1 on a request's {@code Transfer-Encoding}: chunked is the only coding this server decodes, and a
 * request with any other is a 501. Netty's decoder frames any list that contains {@code chunked} and hands the body
 * on still encoded (its aggregator then drops only the {@code chunked} part of the header), so
 * {@code gzip, chunked} used to be read as if it were plain JSON. The connection is closed after the 501: without
 * a final chunked the body's length was never known, so nothing after it can be trusted.
 */
public final class TransferCodings {
    private TransferCodings() {}

    /** A 501 naming the request's transfer codings other than chunked, or null when it has none. */
    public static ApiException refusal(HttpHeaders headers) {
        List<String> others = new ArrayList<>();
        for (String value : headers.getAll(HttpHeaderNames.TRANSFER_ENCODING)) {
            for (String part : value.split(",")) {
                String coding = part.strip();
                String name = coding.split(";", 2)[0].strip().toLowerCase(Locale.ROOT);
                if (!name.isEmpty() && !name.equals("chunked")) {
                    others.add(coding);
                }
            }
        }
        if (others.isEmpty()) {
            return null;
        }
        return new ApiException(HttpResponseStatus.NOT_IMPLEMENTED, "invalid_request_error",
                "Transfer-Encoding " + Quote.names(others) + " is not supported; only chunked is (send the body "
                        + "uncompressed)", null, "unsupported_transfer_encoding", 0);
    }
}
