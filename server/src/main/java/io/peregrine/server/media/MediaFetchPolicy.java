package io.peregrine.server.media;

import java.nio.file.Path;
import java.time.Duration;

/**
 * Where media URLs may point (vLLM's {@code --allowed-local-media-path}, {@code --allowed-media-domains} spirit).
 *
 * @param allowedLocalDir     local files (absolute paths or {@code file:} URLs) only under this directory; null: none
 * @param allowHttp           fetch {@code http(s)} URLs at all
 * @param allowPrivateNetwork also fetch from loopback, private, link-local and other non-public addresses (off: a
 *                            client cannot make the server probe its own network)
 * @param timeout             connect and whole-response timeout of one fetch
 * @param maxBytes            the largest media file accepted, from any source
 */
public record MediaFetchPolicy(Path allowedLocalDir, boolean allowHttp, boolean allowPrivateNetwork, Duration timeout,
                               long maxBytes) {

    /** Data URLs only, up to 64 MiB each. */
    public static final MediaFetchPolicy DATA_URLS_ONLY =
            new MediaFetchPolicy(null, false, false, Duration.ofSeconds(10), 64L << 20);

    public MediaFetchPolicy {
        if (maxBytes <= 0) {
            throw new IllegalArgumentException("maxBytes must be positive, got " + maxBytes);
        }
        if (timeout == null || timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("timeout must be positive, got " + timeout);
        }
    }
}
