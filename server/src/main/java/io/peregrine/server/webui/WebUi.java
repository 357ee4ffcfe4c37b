package io.peregrine.server.webui;

import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.peregrine.server.http.ApiException;
import io.peregrine.server.http.Exchange;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The chat page: {@code /} is {@code index.html}, {@code /ui/*} the page's own files and {@code /webjars/*} the
 * libraries it uses (marked, DOMPurify, highlight.js), all read from the class path as built, with no build step at
 * run time. The files hold no data, so they load without an API key; the page asks for the key when the API
 * answers 401 and sends it as a Bearer header on its own calls (kept in the tab's sessionStorage).
 */
public final class WebUi {
    private static final String PAGE_ROOT = "peregrine/webui/";
    private static final String WEBJARS_ROOT = "META-INF/resources/webjars/";
    private static final Map<String, String> TYPES = Map.of(
            "html", "text/html; charset=utf-8", "js", "text/javascript; charset=utf-8",
            "css", "text/css; charset=utf-8", "svg", "image/svg+xml", "png", "image/png", "json",
            "application/json", "map", "application/json");
    // Scripts and styles from this origin only; images and media the user attaches are shown from blob: URLs.
    private static final String CSP = "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
            + "object-src 'none'; frame-ancestors 'none'; base-uri 'none'";
    private static final WebUi OFF = new WebUi(false, null);

    private final boolean on;
    private final ClassLoader loader;
    private final ConcurrentHashMap<String, byte[]> files = new ConcurrentHashMap<>(); // found files only

    private WebUi(boolean on, ClassLoader loader) {
        this.on = on;
        this.loader = loader;
    }

    /** The page from this jar's resources. */
    public static WebUi fromResources() {
        return new WebUi(true, WebUi.class.getClassLoader());
    }

    /** {@code --no-web-ui}: {@code /} and the page's files are 404s like any unknown path. */
    public static WebUi off() {
        return OFF;
    }

    /** Whether {@code path} is one of the page's (the router answers it before the API key check). */
    public boolean serves(String path) {
        return on && (path.equals("/") || path.equals("/index.html") || path.startsWith("/ui/")
                || path.startsWith("/webjars/"));
    }

    public void answer(Exchange ex, HttpMethod method, String path) {
        if (!method.equals(HttpMethod.GET) && !method.equals(HttpMethod.HEAD)) {
            ex.error(ApiException.methodNotAllowed("Use GET " + path));
            return;
        }
        String resource = resourceOf(path);
        byte[] body = resource == null ? null : files.get(resource);
        if (body == null && resource != null) {
            body = read(resource);
            if (body != null) {
                files.put(resource, body);
            }
        }
        if (body == null) {
            ex.error(ApiException.notFound("No file " + path));
            return;
        }
        boolean page = resource.endsWith(".html");
        boolean versioned = resource.startsWith(WEBJARS_ROOT); // a new library version is a new path
        ex.file(TYPES.getOrDefault(extension(resource), "application/octet-stream"), body,
                h -> headers(h, page, versioned));
    }

    private static void headers(HttpHeaders h, boolean page, boolean versioned) {
        h.set("X-Content-Type-Options", "nosniff");
        // The page's own files change with the server (revalidated every load); the WebJars' paths carry versions.
        h.set("Cache-Control", versioned ? "max-age=86400" : "no-cache");
        if (page) {
            h.set("Content-Security-Policy", CSP);
            h.set("Referrer-Policy", "no-referrer");
        }
    }

    /** The class-path name of a page path; null for anything that could climb out of the page's folders. */
    static String resourceOf(String path) {
        if (path.equals("/") || path.equals("/index.html")) {
            return PAGE_ROOT + "index.html";
        }
        if (path.contains("..") || path.contains("//") || path.contains("\\") || path.endsWith("/")) {
            return null;
        }
        if (path.startsWith("/ui/") && path.length() > 4) {
            return PAGE_ROOT + path.substring(4);
        }
        if (path.startsWith("/webjars/") && path.length() > 9) {
            return WEBJARS_ROOT + path.substring(9);
        }
        return null;
    }

    private byte[] read(String resource) {
        try (InputStream in = loader.getResourceAsStream(resource)) {
            return in == null ? null : in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String extension(String name) {
        int dot = name.lastIndexOf('.');
        return dot < 0 ? "" : name.substring(dot + 1).toLowerCase(Locale.ROOT);
    }
}
