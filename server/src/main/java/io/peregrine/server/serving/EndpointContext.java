package io.peregrine.server.serving;

import io.peregrine.server.http.ApiException;
import io.peregrine.server.http.JsonBodies;
import io.peregrine.server.metrics.ServerMetrics;
import java.util.UUID;

/**
 * What every endpoint handler shares: the serving state, the body reader, the metrics, the SSE keep-alive
 * interval, and how ids are minted.
 */
public record EndpointContext(ServingState state, JsonBodies bodies, ServerMetrics metrics, long keepAliveNanos) {

    /** The loaded model, or the 503 that says why there is none. */
    public ModelRuntime serving() throws ApiException {
        return state.requireServing();
    }

    public <T extends Record> JsonBodies.Parsed<T> read(byte[] body, Class<T> type) throws ApiException {
        return bodies.read(body, type);
    }

    /** A fresh id in the API's own form: {@code prefix} and 32 hex digits ({@code chatcmpl-…}, {@code msg_…}). */
    public static String newId(String prefix) {
        return prefix + UUID.randomUUID().toString().replace("-", "");
    }
}
