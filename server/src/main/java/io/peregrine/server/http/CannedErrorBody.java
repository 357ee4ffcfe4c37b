package io.peregrine.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.peregrine.api.json.Json;

/**
 * An error the pipeline answers before any request handler runs (401 before the body is read, 413 past the size
 * limit): its body serialised once per dialect, chosen per request by the URI.
 */
record CannedErrorBody(byte[] openai, byte[] anthropic) {

    static CannedErrorBody of(ApiException e) {
        try {
            return new CannedErrorBody(Json.newMapper().writeValueAsBytes(ErrorDialect.OPENAI.body(e)),
                    Json.newMapper().writeValueAsBytes(ErrorDialect.ANTHROPIC.body(e)));
        } catch (JsonProcessingException ex) {
            throw new IllegalStateException(ex);
        }
    }

    byte[] forUri(String uri) {
        return ErrorDialect.forUri(uri) == ErrorDialect.ANTHROPIC ? anthropic : openai;
    }
}
