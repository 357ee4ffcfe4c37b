package io.peregrine.server.app;

import io.peregrine.server.http.ApiException;
import io.peregrine.server.http.CorsPolicy;
import io.peregrine.server.http.ErrorDialect;
import io.peregrine.server.http.Exchange;
import io.peregrine.server.http.JsonBodies;
import io.peregrine.server.http.Quote;
import io.peregrine.server.http.RequestQueue;
import io.peregrine.server.http.RequestTarget;
import io.peregrine.server.http.TransferCodings;
import io.peregrine.server.stream.GenerationCall;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.peregrine.api.health.Readiness;
import io.peregrine.api.models.ModelCard;
import io.peregrine.api.models.ModelList;
import io.peregrine.server.anthropic.MessagesHandler;
import io.peregrine.server.auth.ApiKeys;
import io.peregrine.server.chat.ChatHandler;
import io.peregrine.server.completions.CompletionsHandler;
import io.peregrine.server.metrics.ServerMetrics;
import io.peregrine.server.responses.ResponsesHandler;
import io.peregrine.server.serving.ModelRuntime;
import io.peregrine.server.serving.ServingState;
import io.peregrine.server.tracing.Tracing;
import io.peregrine.server.webui.WebUi;
import io.opentelemetry.context.Scope;
import java.io.IOException;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Routes each request, checks the API key (every endpoint but liveness), and runs the work: cheap reads on the
 * event loop, anything that parses a body or tokenizes on a request thread (virtual), so a long prompt never
 * stalls other connections' I/O.
 */
@ChannelHandler.Sharable
public final class ApiHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
    private static final Logger LOG = Logger.getLogger(ApiHandler.class.getName());

    /** A unit of request work that may end in an OpenAI error. */
    @FunctionalInterface
    private interface Work {
        void run(Exchange exchange) throws ApiException;
    }

    private final ServingState state;
    private final ApiKeys keys;
    private final JsonBodies bodies;
    private final ServerMetrics metrics;
    private final Executor requestThreads;
    private final CorsPolicy cors;
    private final ResponsesHandler responses;
    private final WebUi webUi;
    private final Tracing tracing;
    private final long created = System.currentTimeMillis() / 1000;
    private final Map<String, Route> routes;

    public ApiHandler(ServingState state, ApiKeys keys, JsonBodies bodies, ChatHandler chat,
                      CompletionsHandler completions, TokenizeHandler tokenize, ResponsesHandler responses,
                      MessagesHandler messages, ServerMetrics metrics, Executor requestThreads, CorsPolicy cors,
                      WebUi webUi, Tracing tracing) {
        this.webUi = webUi;
        this.tracing = tracing;
        this.cors = cors;
        this.responses = responses;
        this.state = state;
        this.keys = keys;
        this.bodies = bodies;
        this.metrics = metrics;
        this.requestThreads = requestThreads;
        this.routes = routes(chat, completions, tokenize, messages);
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
        if (req.decoderResult().isFailure()) {
            // The decoder has lost track of where requests start and end: answer, then drop the connection,
            // whatever else is queued on it.
            RequestQueue.of(ctx.channel()).discard();
            new Exchange(ctx.channel(), false, bodies.mapper()).error(malformed(req.decoderResult().cause()));
            return;
        }
        if (RequestQueue.of(ctx.channel()).admit(req, ctx.channel())) {
            serve(ctx, req);
        }
    }

    /** Serves one request; the next pipelined one starts when this one has been answered. */
    private void serve(ChannelHandlerContext ctx, FullHttpRequest req) {
        long arrival = System.nanoTime();
        // A body whose framing or coding this server cannot decode leaves the connection's byte stream suspect.
        ApiException coding = TransferCodings.refusal(req.headers());
        boolean keepAlive = coding == null && HttpUtil.isKeepAlive(req);
        // After a "Connection: close" answer the connection closes: what the client pipelined behind it is dropped
        // rather than run for nobody.
        String origin = req.headers().get(HttpHeaderNames.ORIGIN);
        Exchange ex = new Exchange(ctx.channel(), keepAlive, req.protocolVersion().equals(HttpVersion.HTTP_1_0),
                bodies.mapper(), () -> afterAnswer(ctx, keepAlive), h -> cors.addResponseHeaders(origin, h));
        String path;
        try {
            path = new QueryStringDecoder(RequestTarget.originForm(req.uri())).path();
        } catch (IllegalArgumentException e) {
            ex.error(ApiException.invalid("The request URI is not valid: " + Quote.clip(String.valueOf(e.getMessage())),
                    null));
            return;
        }
        ex.dialect(ErrorDialect.forPath(path));
        if (coding != null) {
            RequestQueue.of(ctx.channel()).discard();
            ex.error(coding);
            return;
        }
        HttpMethod method = req.method();
        if (cors.isPreflight(method, req.headers())) {
            preflight(ex, req);
            return;
        }
        if (path.equals("/health") || path.equals("/v1/health/live")) {
            if (!method.equals(HttpMethod.GET) && !method.equals(HttpMethod.HEAD)) {
                ex.error(ApiException.methodNotAllowed("Use GET " + path));
            } else if (!state.alive()) {
                // vLLM's /health is 503 once its engine is dead: an orchestrator then restarts the server
                ex.json(HttpResponseStatus.SERVICE_UNAVAILABLE, new Readiness("failed", state.progress(), state.detail()));
            } else {
                ex.text(HttpResponseStatus.OK, "application/json", "{}");
            }
            return;
        }
        if (webUi.serves(path)) {
            // The page's files hold no data: they load without a key and the page sends the key on its API calls.
            webUi.answer(ex, method, path);
            return;
        }
        if (!keys.accepts(req.headers().get(HttpHeaderNames.AUTHORIZATION), req.headers().get("x-api-key"))) {
            ex.error(ApiException.unauthorized());
            return;
        }
        String encoding = req.headers().get(HttpHeaderNames.CONTENT_ENCODING);
        if (encoding != null && !encoding.isBlank() && !encoding.trim().equalsIgnoreCase("identity")) {
            // Read as JSON, a compressed body would be a baffling "not valid JSON".
            ex.error(new ApiException(HttpResponseStatus.UNSUPPORTED_MEDIA_TYPE, "invalid_request_error",
                    "Content-Encoding '" + Quote.clip(encoding) + "' is not supported; send the body uncompressed",
                    null, "unsupported_content_encoding", 0));
            return;
        }
        byte[] body = ByteBufUtil.getBytes(req.content());
        try {
            route(ex, method, path, body, arrival, req.headers());
        } catch (ApiException e) {
            ex.error(e);
        }
    }

    /**
     * A browser sends no credentials on a preflight, so it needs no key (vLLM's auth middleware lets OPTIONS
     * through too); it reveals only the CORS configuration, the same for every path.
     */
    private void preflight(Exchange ex, FullHttpRequest req) {
        HttpHeaders allowing = new DefaultHttpHeaders();
        java.util.List<String> refused = cors.answerPreflight(req.headers(), allowing);
        if (refused.isEmpty()) {
            ex.noContent(h -> h.add(allowing));
        } else {
            // Starlette's answer too; the browser then blocks the call, and the body says why in its dev tools.
            ex.error(ApiException.invalid("Disallowed CORS " + String.join(", ", refused), null));
        }
    }


    private void afterAnswer(ChannelHandlerContext ctx, boolean requestedKeepAlive) {
        // A close-delimited stream ends the connection whatever the client asked: nothing may follow it.
        boolean keepAlive = requestedKeepAlive && !Boolean.TRUE.equals(ctx.channel().attr(Exchange.CLOSE_DELIMITED).get());
        try {
            ctx.channel().eventLoop().execute(keepAlive ? () -> serveNext(ctx)
                    : () -> RequestQueue.of(ctx.channel()).discard());
        } catch (RejectedExecutionException e) {
            // The server is shutting down: there is no next request to serve.
        }
    }

    private void serveNext(ChannelHandlerContext ctx) {
        if (!ctx.channel().isActive()) {
            RequestQueue.of(ctx.channel()).discard();
            return;
        }
        FullHttpRequest next = RequestQueue.of(ctx.channel()).next(ctx.channel());
        if (next == null && Boolean.TRUE.equals(ctx.channel().attr(GenerationCall.INPUT_SHUT).get())) {
            ctx.close(); // half-closed: every request it sent has been answered
            return;
        }
        if (next != null) {
            try {
                serve(ctx, next);
            } finally {
                next.release();
            }
        }
    }

    /** The decoder's complaint in the client's terms: the status that names the problem, no Java class names. */
    static ApiException malformed(Throwable cause) {
        String detail = cause == null || cause.getMessage() == null ? "" : ": " + Quote.clip(cause.getMessage());
        if (cause instanceof TooLongHttpLineException) {
            return new ApiException(HttpResponseStatus.REQUEST_URI_TOO_LONG, "invalid_request_error",
                    "The request line is too long" + detail, null, "uri_too_long", 0);
        }
        if (cause instanceof TooLongHttpHeaderException) {
            return new ApiException(HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "invalid_request_error",
                    "The request headers are too large" + detail, null, "headers_too_large", 0);
        }
        return ApiException.invalid("Malformed HTTP request" + detail, null);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        RequestQueue.of(ctx.channel()).discard();
        super.channelInactive(ctx);
    }

    private void route(Exchange ex, HttpMethod method, String path, byte[] body, long arrival, HttpHeaders headers)
            throws ApiException {
        Route route = routes.get(path);
        if (route != null) {
            requireMethod(method, route.method(), path);
            if (route.traced()) {
                ex.trace(tracing.begin(path, headers, arrival));
            }
            if (route.offloaded()) {
                offload(ex, e -> route.work().run(e, body, arrival));
            } else {
                route.work().run(ex, body, arrival);
            }
        } else if (path.startsWith("/v1/models/")) {
            requireMethod(method, HttpMethod.GET, path);
            ModelRuntime rt = state.requireServing();
            String name = path.substring("/v1/models/".length());
            if (!rt.servedModelNames().contains(name)) {
                throw ApiException.modelNotFound(name);
            }
            ex.json(HttpResponseStatus.OK, new ModelCard(name, created, rt.root(), rt.engine().maxModelLen()));
        } else if (path.startsWith("/v1/responses/") && path.indexOf('/', "/v1/responses/".length()) < 0) {
            String id = path.substring("/v1/responses/".length());
            if (method.equals(HttpMethod.GET) || method.equals(HttpMethod.HEAD)) {
                offload(ex, e -> responses.retrieve(e, id)); // a stored response may be large to serialize
            } else if (method.equals(HttpMethod.DELETE)) {
                offload(ex, e -> responses.delete(e, id));
            } else {
                throw ApiException.methodNotAllowed("Use GET or DELETE " + path);
            }
        } else {
            throw ApiException.notFound("No endpoint " + method + " " + path);
        }
    }

    /** What an endpoint does with a request that reached it by the right method. */
    @FunctionalInterface
    private interface Endpoint {
        void run(Exchange exchange, byte[] body, long arrivalNanos) throws ApiException;
    }

    /**
     * One row of the routing table.
     *
     * @param traced    opens a request span (the generating endpoints)
     * @param offloaded runs on a request thread: it parses a body or tokenizes; the rest are cheap reads
     */
    private record Route(HttpMethod method, boolean traced, boolean offloaded, Endpoint work) {
        static Route read(Endpoint work) {
            return new Route(HttpMethod.GET, false, false, work);
        }

        static Route generate(Endpoint work) {
            return new Route(HttpMethod.POST, true, true, work);
        }

        static Route post(Endpoint work) {
            return new Route(HttpMethod.POST, false, true, work);
        }
    }

    /** Fixed paths; {@code /v1/models/{id}} and {@code /v1/responses/{id}} are matched by prefix in {@link #route}. */
    private Map<String, Route> routes(ChatHandler chat, CompletionsHandler completions, TokenizeHandler tokenize,
                                      MessagesHandler messages) {
        Route ready = Route.read((ex, body, t) -> readiness(ex));
        Route scrape = Route.read((ex, body, t) -> ex.text(HttpResponseStatus.OK,
                "text/plain; version=0.0.4; charset=utf-8", metrics.scrape()));
        return Map.ofEntries(
                Map.entry("/ready", ready),
                Map.entry("/v1/health/ready", ready),
                Map.entry("/metrics", scrape),
                Map.entry("/v1/metrics", scrape),
                Map.entry("/v1/models", Route.read((ex, body, t) -> models(ex))),
                Map.entry("/v1/chat/completions", Route.generate(chat::handle)),
                Map.entry("/v1/completions", Route.generate(completions::handle)),
                Map.entry("/v1/responses", Route.generate(responses::create)),
                Map.entry("/v1/messages", Route.generate(messages::handle)),
                Map.entry("/v1/responses/input_tokens", Route.post((ex, body, t) ->
                        ex.json(HttpResponseStatus.OK, responses.inputTokens(body)))),
                Map.entry("/v1/messages/count_tokens", Route.post((ex, body, t) ->
                        ex.json(HttpResponseStatus.OK, messages.countTokens(body)))),
                Map.entry("/tokenize", Route.post((ex, body, t) ->
                        ex.json(HttpResponseStatus.OK, tokenize.tokenize(body)))),
                Map.entry("/v1/tokenizers/estimate-token-count", Route.post((ex, body, t) ->
                        ex.json(HttpResponseStatus.OK, tokenize.estimateTokenCount(body)))),
                Map.entry("/detokenize", Route.post((ex, body, t) ->
                        ex.json(HttpResponseStatus.OK, tokenize.detokenize(body)))));
    }

    private void models(Exchange ex) throws ApiException {
        ModelRuntime rt = state.requireServing();
        int len = rt.engine().maxModelLen();
        ex.json(HttpResponseStatus.OK, new ModelList(rt.servedModelNames().stream()
                .map(n -> new ModelCard(n, created, rt.root(), len)).toList()));
    }

    private void readiness(Exchange ex) {
        ServingState.Phase phase = state.phase();
        String status = switch (phase) {
            case READY -> "ready";
            case LOADING -> "loading";
            case FAILED -> "failed";
            case DRAINING -> "shutting_down";
        };
        ex.json(phase == ServingState.Phase.READY ? HttpResponseStatus.OK : HttpResponseStatus.SERVICE_UNAVAILABLE,
                new Readiness(status, state.progress(), state.detail()));
    }

    private static void requireMethod(HttpMethod actual, HttpMethod expected, String path) throws ApiException {
        // HEAD is GET without the body (the codec drops it), as HTTP requires of every GET resource.
        boolean head = actual.equals(HttpMethod.HEAD) && expected.equals(HttpMethod.GET);
        if (!actual.equals(expected) && !head) {
            throw ApiException.methodNotAllowed("Use " + expected + " " + path);
        }
    }

    private void offload(Exchange ex, Work work) {
        requestThreads.execute(() -> {
            try (Scope traced = ex.trace().activate()) {
                work.run(ex);
            } catch (ApiException e) {
                ex.error(e);
            } catch (RuntimeException e) {
                LOG.log(Level.SEVERE, "unexpected failure handling a request", e);
                ex.error(ApiException.internal("Internal server error: " + e.getClass().getSimpleName()));
            }
        });
    }

    /**
     * A client that half-closes after its request (FIN: nothing more to send) still gets its answer, after which
     * the connection closes; an idle one closes at once. A generation in flight probes the connection meanwhile
     * ({@link GenerationCall#inputShutdown}), since a client that has gone away sends the same FIN.
     */
    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof ChannelInputShutdownEvent) {
            if (!RequestQueue.of(ctx.channel()).busy()) {
                ctx.close();
                return;
            }
            ctx.channel().attr(GenerationCall.INPUT_SHUT).set(Boolean.TRUE);
            GenerationCall call = ctx.channel().attr(GenerationCall.ACTIVE).get();
            if (call != null) {
                call.inputShutdown();
            }
            return;
        }
        super.userEventTriggered(ctx, evt);
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
        if (ctx.channel().isWritable()) {
            GenerationCall call = ctx.channel().attr(GenerationCall.ACTIVE).get();
            if (call != null) {
                call.onWritable();
            }
        }
        super.channelWritabilityChanged(ctx);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof io.netty.handler.codec.PrematureChannelClosureException) {
            // A client that hung up in the middle of sending its body: its fault, one line is enough.
            LOG.fine(() -> "client closed the connection mid-request: " + cause.getMessage());
        } else if (!(cause instanceof IOException)) {
            LOG.log(Level.WARNING, "closing a connection after an error", cause);
        }
        ctx.close();
    }
}
