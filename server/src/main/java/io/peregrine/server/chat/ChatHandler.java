package io.peregrine.server.chat;

import io.peregrine.api.chat.ChatCompletionRequest;
import io.peregrine.server.http.ApiException;
import io.peregrine.server.http.Exchange;
import io.peregrine.server.http.JsonBodies;
import io.peregrine.server.serving.EndpointContext;
import io.peregrine.server.serving.ModelRuntime;

/** {@code POST /v1/chat/completions}: plan, render and fit, start. Runs on a request thread. */
public final class ChatHandler {
    private final EndpointContext endpoint;
    private final ChatRequestMapper mapper;
    private final ReasoningField reasoningField;

    public ChatHandler(EndpointContext endpoint, ChatRequestMapper mapper, ReasoningField reasoningField) {
        this.endpoint = endpoint;
        this.mapper = mapper;
        this.reasoningField = reasoningField;
    }

    public void handle(Exchange exchange, byte[] body, long arrivalNanos) throws ApiException {
        ModelRuntime rt = endpoint.serving();
        JsonBodies.Parsed<ChatCompletionRequest> parsed = endpoint.read(body, ChatCompletionRequest.class);
        ChatPlan plan = mapper.map(parsed.value(), parsed.tree(), rt.servedModelNames());
        String id = EndpointContext.newId("chatcmpl-");
        try (Generation generation = Generation.prepare(rt, plan)) {
            generation.start(id, new ChatCall(exchange, plan, id, generation.promptLength(),
                    reasoningField, new LogprobsMapper(rt.codec()), endpoint.metrics(), arrivalNanos,
                    generation.sampling().n(), endpoint.keepAliveNanos()));
        }
    }
}
