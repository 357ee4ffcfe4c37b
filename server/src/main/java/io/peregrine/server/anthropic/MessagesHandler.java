package io.peregrine.server.anthropic;

import io.peregrine.api.anthropic.MessagesRequest;
import io.peregrine.api.anthropic.TokenCount;
import io.peregrine.server.chat.Generation;
import io.peregrine.server.http.ApiException;
import io.peregrine.server.http.Exchange;
import io.peregrine.server.http.JsonBodies;
import io.peregrine.server.serving.EndpointContext;
import io.peregrine.server.serving.ModelRuntime;

/**
 * {@code POST /v1/messages} and {@code POST /v1/messages/count_tokens}: the Anthropic request is planned like every
 * chat-shaped request (same prompt builder, engine and output parser as chat completions) and answered in
 * Anthropic's shape. Runs on a request thread.
 */
public final class MessagesHandler {
    private final EndpointContext endpoint;
    private final MessagesRequestMapper mapper;

    public MessagesHandler(EndpointContext endpoint, MessagesRequestMapper mapper) {
        this.endpoint = endpoint;
        this.mapper = mapper;
    }

    public void handle(Exchange exchange, byte[] body, long arrivalNanos) throws ApiException {
        ModelRuntime rt = endpoint.serving();
        JsonBodies.Parsed<MessagesRequest> parsed = endpoint.read(body, MessagesRequest.class);
        MessagesPlan plan = mapper.map(parsed.value(), parsed.tree(), rt.servedModelNames(), false);
        String id = EndpointContext.newId("msg_");
        try (Generation generation = Generation.prepare(rt, plan.chat())) {
            generation.start(id, new MessagesCall(exchange, plan, id, generation.promptLength(),
                    endpoint.metrics(), arrivalNanos, endpoint.keepAliveNanos()));
        }
    }

    /** The prompt tokens the same request to {@code /v1/messages} would prefill (images included). */
    public TokenCount countTokens(byte[] body) throws ApiException {
        ModelRuntime rt = endpoint.serving();
        JsonBodies.Parsed<MessagesRequest> parsed = endpoint.read(body, MessagesRequest.class);
        MessagesPlan plan = mapper.map(parsed.value(), parsed.tree(), rt.servedModelNames(), true);
        return new TokenCount(Generation.countPrompt(rt, plan.chat().input()).length());
    }
}
