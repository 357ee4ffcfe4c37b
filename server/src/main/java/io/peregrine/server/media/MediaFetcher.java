package io.peregrine.server.media;

import io.peregrine.engine.media.DataUrl;
import io.peregrine.engine.media.MediaInputException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Loads the bytes behind a media part's URL under a {@link MediaFetchPolicy}: {@code data:} URLs always, local
 * files only under the allowed directory (after resolving symbolic links), {@code http(s)} only when enabled, to
 * public addresses unless private ones are allowed, with a timeout and a size cap, redirects re-checked hop by hop.
 * Blocking; callers run it on request threads, never on the event loop.
 */
public final class MediaFetcher {
    private static final int MAX_REDIRECTS = 3;

    private final MediaFetchPolicy policy;
    private final Path allowedRoot;
    private final HttpClient http;
    private final java.util.concurrent.Executor bodyReaders = java.util.concurrent.Executors.newThreadPerTaskExecutor(
            Thread.ofVirtual().name("peregrine-media-fetch-", 0).factory());

    public MediaFetcher(MediaFetchPolicy policy) {
        this.policy = policy;
        try {
            this.allowedRoot = policy.allowedLocalDir() == null ? null : policy.allowedLocalDir().toRealPath();
        } catch (IOException e) {
            throw new IllegalArgumentException("--allowed-local-media-path " + policy.allowedLocalDir()
                    + " is not a readable directory: " + e.getMessage(), e);
        }
        if (allowedRoot != null && !Files.isDirectory(allowedRoot)) {
            throw new IllegalArgumentException("--allowed-local-media-path " + allowedRoot + " is not a directory");
        }
        this.http = policy.allowHttp()
                ? HttpClient.newBuilder().connectTimeout(policy.timeout()).followRedirects(HttpClient.Redirect.NEVER).build()
                : null;
    }

    public FetchedMedia fetch(String url, String source) {
        if (url == null || url.isBlank()) {
            throw new MediaFetchException(source, "the media part has no url");
        }
        String lower = url.substring(0, Math.min(url.length(), 8)).toLowerCase(Locale.ROOT);
        if (lower.startsWith("data:")) {
            try {
                DataUrl d = DataUrl.parse(url, policy.maxBytes(), source);
                return new FetchedMedia(d.mediaType(), d.bytes());
            } catch (MediaInputException e) {
                throw new MediaFetchException(source, stripSource(e.getMessage(), source), e);
            }
        }
        if (lower.startsWith("http://") || lower.startsWith("https://")) {
            return fetchHttp(url, source);
        }
        if (lower.startsWith("file:") || url.startsWith("/")) {
            return readLocal(url, source);
        }
        throw new MediaFetchException(source, "unsupported media URL (use a data: URL"
                + (policy.allowHttp() ? ", an http(s) URL" : "") + (allowedRoot != null ? " or a local file" : "") + ")");
    }

    private FetchedMedia readLocal(String url, String source) {
        if (allowedRoot == null) {
            throw new MediaFetchException(source, "local media files are not allowed on this server "
                    + "(start it with --allowed-local-media-path)");
        }
        Path p;
        try {
            p = url.startsWith("/") ? Path.of(url) : Path.of(new URI(url));
        } catch (URISyntaxException | IllegalArgumentException e) {
            throw new MediaFetchException(source, "not a valid file URL", e);
        }
        Path real;
        try {
            real = p.toRealPath();
        } catch (NoSuchFileException e) {
            throw new MediaFetchException(source, "no such file under the allowed media directory");
        } catch (IOException e) {
            throw new MediaFetchException(source, "the file cannot be read", e);
        }
        if (!real.startsWith(allowedRoot)) {
            throw new MediaFetchException(source, "the file is outside the allowed media directory");
        }
        try {
            if (!Files.isRegularFile(real)) {
                throw new MediaFetchException(source, "not a regular file");
            }
            long size = Files.size(real);
            if (size > policy.maxBytes()) {
                throw new MediaFetchException(source, "the file is " + size + " bytes; the limit is " + policy.maxBytes());
            }
            return new FetchedMedia(null, Files.readAllBytes(real));
        } catch (IOException e) {
            throw new MediaFetchException(source, "the file cannot be read", e);
        }
    }

    private FetchedMedia fetchHttp(String url, String source) {
        if (http == null) {
            throw new MediaFetchException(source, "http(s) media URLs are not allowed on this server "
                    + "(start it with --allow-media-urls, or send a data: URL)");
        }
        URI uri;
        try {
            uri = new URI(url);
        } catch (URISyntaxException e) {
            throw new MediaFetchException(source, "not a valid URL", e);
        }
        for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
            checkHost(uri, source);
            HttpResponse<InputStream> r;
            try {
                r = http.send(HttpRequest.newBuilder(uri).timeout(policy.timeout()).GET().build(),
                        HttpResponse.BodyHandlers.ofInputStream());
            } catch (IOException e) {
                throw new MediaFetchException(source, "fetching " + uri.getHost() + " failed: " + e.getMessage(), e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new MediaFetchException(source, "interrupted while fetching", e);
            }
            int status = r.statusCode();
            if (status >= 300 && status < 400 && r.headers().firstValue("location").isPresent()) {
                close(r.body());
                uri = uri.resolve(r.headers().firstValue("location").get());
                String scheme = String.valueOf(uri.getScheme()).toLowerCase(Locale.ROOT);
                if (!scheme.equals("http") && !scheme.equals("https")) {
                    throw new MediaFetchException(source, "redirected to a non-http(s) URL");
                }
                continue;
            }
            if (status != 200) {
                close(r.body());
                throw new MediaFetchException(source, "fetching the URL gave HTTP " + status);
            }
            String type = r.headers().firstValue("content-type")
                    .map(t -> t.split(";", 2)[0].trim().toLowerCase(Locale.ROOT)).orElse(null);
            return new FetchedMedia(type, readWithin(r.body(), source));
        }
        throw new MediaFetchException(source, "more than " + MAX_REDIRECTS + " redirects");
    }

    private void checkHost(URI uri, String source) {
        String host = uri.getHost();
        if (host == null) {
            throw new MediaFetchException(source, "the URL has no host");
        }
        if (policy.allowPrivateNetwork()) {
            return;
        }
        InetAddress[] addresses;
        try {
            addresses = InetAddress.getAllByName(host);
        } catch (UnknownHostException e) {
            throw new MediaFetchException(source, "unknown host " + host, e);
        }
        for (InetAddress a : addresses) {
            if (NetworkGuard.isNonPublic(a)) {
                throw new MediaFetchException(source, "the URL's host " + host + " is a loopback, private or link-local "
                        + "address; such media URLs are refused");
            }
        }
    }

    /** The body, read within the timeout too: a server that trickles bytes cannot hold a request forever. */
    private byte[] readWithin(InputStream in, String source) {
        var reader = java.util.concurrent.CompletableFuture.supplyAsync(() -> readCapped(in, source), bodyReaders);
        try {
            return reader.get(policy.timeout().toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            close(in);
            throw new MediaFetchException(source, "the response body took longer than " + policy.timeout().toMillis()
                    + " ms", e);
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new MediaFetchException(source, "reading the response failed: " + e.getCause(), e);
        } catch (InterruptedException e) {
            close(in);
            Thread.currentThread().interrupt();
            throw new MediaFetchException(source, "interrupted while fetching", e);
        }
    }

    private byte[] readCapped(InputStream in, String source) {
        try (in) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) {
                if (out.size() + (long) n > policy.maxBytes()) {
                    throw new MediaFetchException(source, "the response is larger than the limit of "
                            + policy.maxBytes() + " bytes");
                }
                out.write(buf, 0, n);
            }
            return out.toByteArray();
        } catch (IOException e) {
            throw new MediaFetchException(source, "reading the response failed: " + e.getMessage(), e);
        }
    }

    private static void close(InputStream in) {
        try {
            in.close();
        } catch (IOException ignored) {
            // the connection is dropped either way
        }
    }

    private static String stripSource(String message, String source) {
        return message.startsWith(source + ": ") ? message.substring(source.length() + 2) : message;
    }
}
