package io.peregrine.server.responses;

import io.netty.handler.codec.http.HttpResponseStatus;
import io.peregrine.api.responses.InputTokens;
import io.peregrine.api.responses.ResponseCreateRequest;
import io.peregrine.api.responses.ResponseDeleted;
import io.peregrine.server.chat.Generation;
import io.peregrine.server.http.ApiException;
import io.peregrine.server.http.Exchange;
import io.peregrine.server.http.Quote;
import io.peregrine.server.serving.EndpointContext;
import io.peregrine.server.serving.ModelRuntime;

/**
 * The OpenAI Responses API: {@code POST /v1/responses} (planned like every chat-shaped request), {@code GET} and
 * {@code DELETE /v1/responses/{id}} (the in-memory {@link ResponseStore}), and {@code POST
 * /v1/responses/input_tokens} (the exact prompt size). Request work runs on a request thread.
 */
public final class ResponsesHandler {
    private final EndpointContext endpoint;
    private final ResponsesRequestMapper mapper;
    private final ResponseStore store;

    public ResponsesHandler(EndpointContext endpoint, ResponsesRequestMapper mapper, ResponseStore store) {
        this.endpoint = endpoint;
        this.mapper = mapper;
        this.store = store;
    }

    public void create(Exchange exchange, byte[] body, long arrivalNanos) throws ApiException {
        ModelRuntime rt = endpoint.serving();
        ResponsesPlan plan = mapper.map(endpoint.read(body, ResponseCreateRequest.class).value(),
                rt.servedModelNames());
        try (Generation generation = Generation.prepare(rt, plan.chat())) {
            generation.start(plan.response().id(), new ResponsesCall(exchange, plan, generation.promptLength(), store,
                    endpoint.metrics(), arrivalNanos, endpoint.keepAliveNanos()));
        }
    }

    /** The prompt size {@link #create} would submit for the same body, without generating. */
    public InputTokens inputTokens(byte[] body) throws ApiException {
        ModelRuntime rt = endpoint.serving();
        ResponsesPlan plan = mapper.map(endpoint.read(body, ResponseCreateRequest.class).value(),
                rt.servedModelNames());
        return new InputTokens(Generation.countPrompt(rt, plan.chat().input()).length());
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
