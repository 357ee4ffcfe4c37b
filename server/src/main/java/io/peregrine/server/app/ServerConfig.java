package io.peregrine.server.app;

import io.peregrine.server.http.CorsPolicy;
import io.peregrine.server.auth.ApiKeys;
import io.peregrine.server.chat.MediaLimits;
import io.peregrine.server.chat.ReasoningField;
import io.peregrine.server.sampling.SamplingPolicy;
import java.time.Duration;

/**
 * How the HTTP side behaves.
 *
 * @param port         0 picks a free port (tests)
 * @param maxBodyBytes bodies above this get a 413 before they are read
 * @param sseKeepAlive idle time after which a stream gets an SSE comment; zero disables
 * @param rejectUnknownFields a 400 for unknown request fields instead of ignoring them (vLLM ignores them)
 * @param requestReadTimeout how long a client may take to send a request's head once it has sent its first
 *                           byte, and the longest silence allowed while it sends the body; past it the client gets
 *                           a 408 and is disconnected, so trickled requests (slowloris) cannot hold connections
 *                           forever. Idle keep-alive connections and the time spent answering are not limited.
 * @param idleConnectionTimeout a connection with no request in flight and no traffic either way for this long is
 *                              closed, so idle keep-alive connections cannot pile up until file descriptors run
 *                              out; a request being answered (streamed or not) is never cut by it
 * @param cors which browser origins may call the API ({@link CorsPolicy#none()}: none)
 * @param responsesStoreSize most Responses API responses kept in memory for GET /v1/responses/{id} and
 *                           previous_response_id (least recently used dropped first); 0 keeps none
 * @param writeStallTimeout a connection whose client has not taken the bytes already sent for this long (its
 *                          socket stays full while output waits) is closed, which aborts its request: a client
 *                          that hangs without disconnecting would otherwise hold a running slot and its KV blocks
 *                          until max_tokens
 */
public record ServerConfig(
        String host,
        int port,
        int maxBodyBytes,
        ApiKeys apiKeys,
        SamplingPolicy samplingPolicy,
        ReasoningField reasoningField,
        MediaLimits mediaLimits,
        Duration sseKeepAlive,
        boolean rejectUnknownFields,
        Duration requestReadTimeout,
        Duration idleConnectionTimeout,
        CorsPolicy cors,
        int responsesStoreSize,
        Duration writeStallTimeout) {

    public ServerConfig {
        if (requestReadTimeout.isNegative() || requestReadTimeout.isZero()) {
            throw new IllegalArgumentException("the request read timeout must be positive, got " + requestReadTimeout);
        }
        if (writeStallTimeout.isNegative() || writeStallTimeout.isZero()) {
            throw new IllegalArgumentException("the write stall timeout must be positive, got " + writeStallTimeout);
        }
        if (responsesStoreSize < 0) {
            throw new IllegalArgumentException("the responses store size must be >= 0, got " + responsesStoreSize);
        }
        if (idleConnectionTimeout.isNegative() || idleConnectionTimeout.isZero()) {
            throw new IllegalArgumentException("the idle connection timeout must be positive, got "
                    + idleConnectionTimeout);
        }
    }

    public static ServerConfig defaults() {
        return new ServerConfig("127.0.0.1", 8000, 32 << 20, ApiKeys.none(), SamplingPolicy.FREE, ReasoningField.BOTH,
                new MediaLimits(16, 1), Duration.ofSeconds(15), false,
                Duration.ofSeconds(60), Duration.ofMinutes(5), CorsPolicy.none(), 256, Duration.ofMinutes(2));
    }

    public ServerConfig withPort(int p) {
        return new ServerConfig(host, p, maxBodyBytes, apiKeys, samplingPolicy, reasoningField, mediaLimits, sseKeepAlive, rejectUnknownFields,
                requestReadTimeout, idleConnectionTimeout, cors, responsesStoreSize, writeStallTimeout);
    }

    public ServerConfig withApiKeys(ApiKeys keys) {
        return new ServerConfig(host, port, maxBodyBytes, keys, samplingPolicy, reasoningField, mediaLimits, sseKeepAlive, rejectUnknownFields,
                requestReadTimeout, idleConnectionTimeout, cors, responsesStoreSize, writeStallTimeout);
    }

    public ServerConfig withMaxBodyBytes(int bytes) {
        return new ServerConfig(host, port, bytes, apiKeys, samplingPolicy, reasoningField, mediaLimits, sseKeepAlive, rejectUnknownFields,
                requestReadTimeout, idleConnectionTimeout, cors, responsesStoreSize, writeStallTimeout);
    }

    public ServerConfig withSamplingPolicy(SamplingPolicy policy) {
        return new ServerConfig(host, port, maxBodyBytes, apiKeys, policy, reasoningField, mediaLimits, sseKeepAlive, rejectUnknownFields,
                requestReadTimeout, idleConnectionTimeout, cors, responsesStoreSize, writeStallTimeout);
    }

    public ServerConfig withSseKeepAlive(Duration interval) {
        return new ServerConfig(host, port, maxBodyBytes, apiKeys, samplingPolicy, reasoningField, mediaLimits, interval, rejectUnknownFields,
                requestReadTimeout, idleConnectionTimeout, cors, responsesStoreSize, writeStallTimeout);
    }

    public ServerConfig withRejectUnknownFields(boolean reject) {
        return new ServerConfig(host, port, maxBodyBytes, apiKeys, samplingPolicy, reasoningField, mediaLimits,
                sseKeepAlive, reject, requestReadTimeout, idleConnectionTimeout, cors, responsesStoreSize, writeStallTimeout);
    }

    public ServerConfig withReasoningField(ReasoningField field) {
        return new ServerConfig(host, port, maxBodyBytes, apiKeys, samplingPolicy, field, mediaLimits, sseKeepAlive, rejectUnknownFields,
                requestReadTimeout, idleConnectionTimeout, cors, responsesStoreSize, writeStallTimeout);
    }

    public ServerConfig withRequestReadTimeout(Duration timeout) {
        return new ServerConfig(host, port, maxBodyBytes, apiKeys, samplingPolicy, reasoningField, mediaLimits,
                sseKeepAlive, rejectUnknownFields, timeout, idleConnectionTimeout, cors, responsesStoreSize, writeStallTimeout);
    }

    public ServerConfig withIdleConnectionTimeout(Duration timeout) {
        return new ServerConfig(host, port, maxBodyBytes, apiKeys, samplingPolicy, reasoningField, mediaLimits,
                sseKeepAlive, rejectUnknownFields, requestReadTimeout, timeout, cors, responsesStoreSize, writeStallTimeout);
    }

    public ServerConfig withCors(CorsPolicy policy) {
        return new ServerConfig(host, port, maxBodyBytes, apiKeys, samplingPolicy, reasoningField, mediaLimits,
                sseKeepAlive, rejectUnknownFields, requestReadTimeout, idleConnectionTimeout, policy, responsesStoreSize,
                writeStallTimeout);
    }
}
