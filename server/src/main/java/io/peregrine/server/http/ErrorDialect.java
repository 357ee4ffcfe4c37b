package io.peregrine.server.http;

import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.peregrine.api.anthropic.AnthropicError;
import io.peregrine.api.error.ErrorBody;
import io.peregrine.api.error.ErrorResponse;

/**
 * Which API family's error envelope a request gets, decided by its path: Anthropic clients (Claude Code, the
 * Anthropic SDKs) parse {@code {"type": "error", "error": {"type", "message"}}} and would show an OpenAI body as
 * an unreadable failure. The HTTP status is the same either way.
 */
public enum ErrorDialect {
    OPENAI,
    ANTHROPIC;

    public static ErrorDialect forPath(String path) {
        return path.equals("/v1/messages") || path.startsWith("/v1/messages/") ? ANTHROPIC : OPENAI;
    }

    /** {@link #forPath} of a raw request URI; one that does not parse gets OpenAI's envelope. */
    static ErrorDialect forUri(String uri) {
        try {
            return forPath(new QueryStringDecoder(RequestTarget.originForm(uri)).path());
        } catch (IllegalArgumentException e) {
            return OPENAI;
        }
    }

    /** The JSON body of {@code e} in this dialect. */
    public Object body(ApiException e) {
        return switch (this) {
            case OPENAI -> new ErrorResponse(new ErrorBody(e.getMessage(), e.type(), e.param(), e.code()));
            case ANTHROPIC -> new AnthropicError(anthropicType(e.status()), e.getMessage());
        };
    }

    /** Anthropic's error type for a status (https://docs.anthropic.com/en/api/errors). */
    static String anthropicType(HttpResponseStatus status) {
        return switch (status.code()) {
            case 400, 405, 408, 415, 431, 501 -> "invalid_request_error";
            case 401 -> "authentication_error";
            case 403 -> "permission_error";
            case 404 -> "not_found_error";
            case 413 -> "request_too_large";
            case 429 -> "rate_limit_error";
            case 503, 529 -> "overloaded_error";
            default -> status.code() < 500 ? "invalid_request_error" : "api_error";
        };
    }
}
