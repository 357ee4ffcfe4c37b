package io.peregrine.server.http;

import io.netty.handler.codec.http.HttpResponseStatus;

/**
 * A request that ends in an OpenAI error envelope. Thrown anywhere between parsing and admission; the router
 * turns it into {@code {"error": {message, type, param, code}}} with {@link #status()}.
 *
 * @param retryAfterSeconds sent as {@code Retry-After} when positive
 */
public final class ApiException extends Exception {
    private final HttpResponseStatus status;
    private final String type;
    private final String param;
    private final String code;
    private final int retryAfterSeconds;

    public ApiException(HttpResponseStatus status, String type, String message, String param, String code,
                        int retryAfterSeconds) {
        super(message, null, false, false);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
        this.retryAfterSeconds = retryAfterSeconds;
    }

    /** 400: the request is wrong; {@code param} names the field. */
    public static ApiException invalid(String message, String param) {
        return new ApiException(HttpResponseStatus.BAD_REQUEST, "invalid_request_error", message, param, null, 0);
    }

    /** 400 for a field or value this server understands but does not implement (never silently ignored). */
    public static ApiException unsupported(String message, String param) {
        return new ApiException(HttpResponseStatus.BAD_REQUEST, "invalid_request_error", message, param,
                "unsupported_parameter", 0);
    }

    public static ApiException modelNotFound(String model) {
        return new ApiException(HttpResponseStatus.NOT_FOUND, "invalid_request_error",
                "The model '" + Quote.clip(model) + "' does not exist", "model", "model_not_found", 0);
    }

    public static ApiException notFound(String message) {
        return new ApiException(HttpResponseStatus.NOT_FOUND, "invalid_request_error", message, null, "not_found", 0);
    }

    public static ApiException methodNotAllowed(String message) {
        return new ApiException(HttpResponseStatus.METHOD_NOT_ALLOWED, "invalid_request_error", message, null,
                "method_not_allowed", 0);
    }

    public static ApiException unauthorized() {
        return new ApiException(HttpResponseStatus.UNAUTHORIZED, "invalid_request_error",
                "Missing or invalid API key (send 'Authorization: Bearer <key>' or 'x-api-key: <key>')", null, "invalid_api_key", 0);
    }

    public static ApiException tooLarge(long limit) {
        return new ApiException(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, "invalid_request_error",
                "Request body is larger than the limit of " + limit + " bytes", null, "request_too_large", 0);
    }

    public static ApiException queueFull(String message) {
        return new ApiException(HttpResponseStatus.TOO_MANY_REQUESTS, "rate_limit_error", message, null,
                "queue_full", 1);
    }

    public static ApiException unavailable(String message, String code) {
        return new ApiException(HttpResponseStatus.SERVICE_UNAVAILABLE, "service_unavailable", message, null, code, 5);
    }

    public static ApiException internal(String message) {
        return new ApiException(HttpResponseStatus.INTERNAL_SERVER_ERROR, "server_error", message, null, null, 0);
    }

    public HttpResponseStatus status() {
        return status;
    }

    public String type() {
        return type;
    }

    public String param() {
        return param;
    }

    /**
     * The same error naming {@code renamed} instead of {@link #param()}, in the message as well: for an API whose
     * request was validated in another API's shape (Responses and Anthropic through chat's checks). Only the param
     * itself is rewritten in the message; the rest may quote the client's own text.
     */
    public ApiException withParam(String renamed) {
        String message = param == null ? getMessage() : getMessage().replace(param, renamed);
        return new ApiException(status, type, message, renamed, code, retryAfterSeconds);
    }

    public String code() {
        return code;
    }

    public int retryAfterSeconds() {
        return retryAfterSeconds;
    }
}
