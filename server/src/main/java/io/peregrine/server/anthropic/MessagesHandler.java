package io.peregrine.server.anthropic;

import io.peregrine.api.anthropic.MessagesRequest;
import io.peregrine.api.anthropic.TokenCount;
import io.peregrine.server.chat.ChatHandler;
import io.peregrine.server.http.ApiException;
import io.peregrine.server.http.Exchange;
import io.peregrine.server.http.JsonBodies;
import io.peregrine.server.metrics.ServerMetrics;
import io.peregrine.server.serving.ModelRuntime;
import io.peregrine.server.serving.ServingState;
import java.util.UUID;

/**
 * {@code POST /v1/messages} and {@code POST /v1/messages/count_tokens}: the Anthropic request is mapped onto the
 * chat pipeline (same prompt builder, engine and output parser as chat completions) and answered in Anthropic's
 * shape. Runs on a request thread.
 */
public final class MessagesHandler {
    private final ServingState state;
    private final JsonBodies bodies;
    private final MessagesRequestMapper mapper;
    private final ServerMetrics metrics;
    private final long keepAliveNanos;

    public MessagesHandler(ServingState state, JsonBodies bodies, MessagesRequestMapper mapper, ServerMetrics metrics,
                           long keepAliveNanos) {
        this.state = state;
        this.bodies = bodies;
        this.mapper = mapper;
        this.metrics = metrics;
        this.keepAliveNanos = keepAliveNanos;
    }

    public void handle(Exchange exchange, byte[] body, long arrivalNanos) throws ApiException {
        ModelRuntime rt = state.requireServing();
        JsonBodies.Parsed<MessagesRequest> parsed = bodies.read(body, MessagesRequest.class);
        MessagesPlan plan = mapper.map(parsed.value(), parsed.tree(), rt.servedModelNames(), false);
        String id = "msg_" + UUID.randomUUID().toString().replace("-", "");
        ChatHandler.submit(plan.chat(), rt, id, "max_tokens", (prompt, sampling) -> new MessagesCall(exchange, plan, id,
                prompt.length(), metrics, arrivalNanos, keepAliveNanos));
    }

    /** The prompt tokens the same request to {@code /v1/messages} would prefill (images included). */
    public TokenCount countTokens(byte[] body) throws ApiException {
        ModelRuntime rt = state.requireServing();
        JsonBodies.Parsed<MessagesRequest> parsed = bodies.read(body, MessagesRequest.class);
        MessagesPlan plan = mapper.map(parsed.value(), parsed.tree(), rt.servedModelNames(), true);
        return new TokenCount(ChatHandler.renderForCounting(rt, plan.chat().input()).length());
    }
}
