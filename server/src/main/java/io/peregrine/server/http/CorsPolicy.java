package io.peregrine.server.http;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Cross-origin resource sharing as vLLM configures it ({@code --allowed-origins}, {@code --allowed-methods},
 * {@code --allowed-headers}, {@code --allow-credentials}) and Starlette's CORSMiddleware applies it, so a browser
 * page on an allowed origin may call the API. With no origins configured nothing is added to any response.
 *
 * <p>Netty's own {@code CorsHandler} is not used: it answers preflights from the channel pipeline ahead of the
 * request queue (a pipelined preflight would overtake earlier answers) and it tags each response with the origin
 * of the latest request read, not of the request being answered.
 *
 * @param origins     exact origins ({@code https://app.example}) or {@code *}
 * @param methods     methods a preflight may ask for, or {@code *}
 * @param headers     request headers a preflight may ask for (case-insensitive), or {@code *}
 * @param credentials whether the browser may send cookies / authorization: then the origin is echoed, never {@code *}
 */
public record CorsPolicy(List<String> origins, List<String> methods, List<String> headers, boolean credentials) {
    /** How long a browser may cache a preflight answer (Starlette's default). */
    static final int MAX_AGE_SECONDS = 600;
    private static final String ALL_METHODS = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT";

    public CorsPolicy {
        origins = List.copyOf(origins);
        methods = methods.stream().map(m -> m.trim().toUpperCase(Locale.ROOT)).toList();
        headers = headers.stream().map(h -> h.trim().toLowerCase(Locale.ROOT)).toList();
        for (String o : origins) {
            if (!o.equals("*") && (o.isBlank() || o.endsWith("/"))) {
                throw new IllegalArgumentException("an allowed origin is a scheme://host[:port] without a trailing "
                        + "slash, or *; got '" + o + "'");
            }
        }
    }

    /** No CORS headers anywhere: the default, as browsers then refuse cross-origin calls. */
    public static CorsPolicy none() {
        return new CorsPolicy(List.of(), List.of("*"), List.of("*"), false);
    }

    public boolean enabled() {
        return !origins.isEmpty();
    }

    /** A browser's preflight: OPTIONS asking whether a method may be used, sent before the real request. */
    public boolean isPreflight(HttpMethod method, HttpHeaders request) {
        return enabled() && method.equals(HttpMethod.OPTIONS) && request.contains(HttpHeaderNames.ORIGIN)
                && request.contains(HttpHeaderNames.ACCESS_CONTROL_REQUEST_METHOD);
    }

    boolean allowsOrigin(String origin) {
        return origin != null && (origins.contains("*") || origins.contains(origin));
    }

    /**
     * The headers an actual (non-preflight) response carries for a request from {@code origin}; none when CORS
     * is off, the request has no Origin or the origin is not allowed (the browser then hides the answer).
     */
    public void addResponseHeaders(String origin, HttpHeaders response) {
        if (!enabled() || !allowsOrigin(origin)) {
            return;
        }
        allowOrigin(origin, response);
        response.set(HttpHeaderNames.ACCESS_CONTROL_EXPOSE_HEADERS, "Retry-After");
    }

    private void allowOrigin(String origin, HttpHeaders response) {
        if (origins.contains("*") && !credentials) {
            response.set(HttpHeaderNames.ACCESS_CONTROL_ALLOW_ORIGIN, "*");
        } else {
            // Echoed: caches must then keep one answer per origin.
            response.set(HttpHeaderNames.ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            response.add(HttpHeaderNames.VARY, "Origin");
        }
        if (credentials) {
            response.set(HttpHeaderNames.ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
        }
    }

    /**
     * Answers a preflight: the allowing headers, or the reasons it is refused (an empty list means allowed).
     * Refusals name the origin, method or headers as Starlette's "Disallowed CORS ..." does.
     */
    public List<String> answerPreflight(HttpHeaders request, HttpHeaders response) {
        String origin = request.get(HttpHeaderNames.ORIGIN);
        String method = request.get(HttpHeaderNames.ACCESS_CONTROL_REQUEST_METHOD).trim().toUpperCase(Locale.ROOT);
        String asked = request.get(HttpHeaderNames.ACCESS_CONTROL_REQUEST_HEADERS, "");
        List<String> refused = new ArrayList<>();
        if (!allowsOrigin(origin)) {
            refused.add("origin '" + Quote.clip(origin) + "'");
        }
        if (!methods.contains("*") && !methods.contains(method)) {
            refused.add("method '" + Quote.clip(method) + "'");
        }
        if (!headers.contains("*")) {
            for (String h : asked.split(",")) {
                String name = h.trim().toLowerCase(Locale.ROOT);
                if (!name.isEmpty() && !headers.contains(name)) {
                    refused.add("header '" + Quote.clip(name) + "'");
                }
            }
        }
        if (!refused.isEmpty()) {
            return refused;
        }
        allowOrigin(origin, response);
        response.set(HttpHeaderNames.ACCESS_CONTROL_ALLOW_METHODS,
                methods.contains("*") ? ALL_METHODS : String.join(", ", methods));
        // "*" echoes what the browser asked for: a literal "*" is not honoured with credentials.
        String allowHeaders = headers.contains("*") ? asked.trim() : String.join(", ", headers);
        if (!allowHeaders.isEmpty()) {
            response.set(HttpHeaderNames.ACCESS_CONTROL_ALLOW_HEADERS, allowHeaders);
        }
        response.setInt(HttpHeaderNames.ACCESS_CONTROL_MAX_AGE, MAX_AGE_SECONDS);
        return List.of();
    }
}
