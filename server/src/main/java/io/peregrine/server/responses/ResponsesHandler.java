package io.peregrine.server.responses;

import io.netty.handler.codec.http.HttpResponseStatus;
import io.peregrine.api.responses.InputTokens;
import io.peregrine.api.responses.ResponseCreateRequest;
import io.peregrine.api.responses.ResponseDeleted;
import io.peregrine.server.chat.ChatHandler;
import io.peregrine.server.http.ApiException;
import io.peregrine.server.http.Exchange;
import io.peregrine.server.http.JsonBodies;
import io.peregrine.server.http.Quote;
import io.peregrine.server.metrics.ServerMetrics;
import io.peregrine.server.serving.ModelRuntime;
import io.peregrine.server.serving.ServingState;

/**
 * The OpenAI Responses API: {@code POST /v1/responses} (through the chat pipeline), {@code GET} and
 * {@code DELETE /v1/responses/{id}} (the in-memory {@link ResponseStore}), and {@code POST
 * /v1/responses/input_tokens} (the exact prompt size). Request work runs on a request thread.
 */
public final class ResponsesHandler {
    private final ServingState state;
    private final JsonBodies bodies;
    private final ResponsesRequestMapper mapper;
    private final ResponseStore store;
    private final ServerMetrics metrics;
    private final long keepAliveNanos;

    public ResponsesHandler(ServingState state, JsonBodies bodies, ResponsesRequestMapper mapper, ResponseStore store,
                            ServerMetrics metrics, long keepAliveNanos) {
        this.state = state;
        this.bodies = bodies;
        this.mapper = mapper;
        this.store = store;
        this.metrics = metrics;
        this.keepAliveNanos = keepAliveNanos;
    }

    public void create(Exchange exchange, byte[] body, long arrivalNanos) throws ApiException {
        ModelRuntime rt = state.requireServing();
        ResponsesPlan plan = mapper.map(bodies.read(body, ResponseCreateRequest.class).value(), rt.servedModelNames());
        ChatHandler.submit(plan.chat(), rt, plan.response().id(), "max_output_tokens",
                (prompt, sampling) -> new ResponsesCall(exchange, plan, prompt.length(), store, metrics,
                        arrivalNanos, keepAliveNanos));
    }

    /** The prompt size {@link #create} would submit for the same body, without generating. */
    public InputTokens inputTokens(byte[] body) throws ApiException {
        ModelRuntime rt = state.requireServing();
        ResponsesPlan plan = mapper.map(bodies.read(body, ResponseCreateRequest.class).value(), rt.servedModelNames());
        return new InputTokens(ChatHandler.renderForCounting(rt, plan.chat().input()).length());
    }

    public void retrieve(Exchange exchange, String id) throws ApiException {
        ResponseStore.Stored stored = store.get(id);
        if (stored == null) {
            throw notFound(id);
        }
        exchange.json(HttpResponseStatus.OK, stored.response());
    }

    public void delete(Exchange exchange, String id) throws ApiException {
        if (!store.remove(id)) {
            throw notFound(id);
        }
        exchange.json(HttpResponseStatus.OK, new ResponseDeleted(id));
    }

    private ApiException notFound(String id) {
        return ApiException.notFound("No response with id '" + Quote.clip(id) + "' is stored here ("
                + store.retention() + ")");
    }
}
