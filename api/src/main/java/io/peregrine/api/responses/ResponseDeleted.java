package io.peregrine.api.responses;

/** The answer to {@code DELETE /v1/responses/{id}}. */
public record ResponseDeleted(String id, String object, boolean deleted) {
    public ResponseDeleted(String id) {
        this(id, "response.deleted", true);
    }
}
