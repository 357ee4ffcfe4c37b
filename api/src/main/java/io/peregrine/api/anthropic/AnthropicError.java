package io.peregrine.api.anthropic;

/**
 * Anthropic's error envelope, {@code {"type": "error", "error": {"type", "message"}}}: the body of an error
 * response and the data of a stream's {@code error} event.
 */
public record AnthropicError(String type, Detail error) {

    /** @param type invalid_request_error, authentication_error, not_found_error, rate_limit_error, ... */
    public record Detail(String type, String message) {}

    public AnthropicError(String errorType, String message) {
        this("error", new Detail(errorType, message));
    }
}
