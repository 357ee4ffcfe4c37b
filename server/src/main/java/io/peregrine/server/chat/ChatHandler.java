package io.peregrine.server.chat;

import io.peregrine.api.chat.ChatCompletionRequest;
import io.peregrine.engine.media.MediaProducer;
import io.peregrine.engine.runtime.GenerationRequest;
import io.peregrine.engine.runtime.SamplingParams;
import io.peregrine.server.http.ApiException;
import io.peregrine.server.http.ContextCheck;
import io.peregrine.server.http.Exchange;
import io.peregrine.server.http.JsonBodies;
import io.peregrine.server.metrics.ServerMetrics;
import io.peregrine.server.sampling.SamplingResolver;
import io.peregrine.server.serving.ModelRuntime;
import io.peregrine.server.serving.ServingState;
import java.util.UUID;

/** {@code POST /v1/chat/completions}: validate, render, check the context, submit. Runs on a request thread. */
public final class ChatHandler {
    private final ServingState state;
    private final JsonBodies bodies;
    private final ChatRequestMapper mapper;
    private final ReasoningField reasoningField;
    private final ServerMetrics metrics;
    private final long keepAliveNanos;

    public ChatHandler(ServingState state, JsonBodies bodies, ChatRequestMapper mapper, ReasoningField reasoningField,
                       ServerMetrics metrics, long keepAliveNanos) {
        this.keepAliveNanos = keepAliveNanos;
        this.state = state;
        this.bodies = bodies;
        this.mapper = mapper;
        this.reasoningField = reasoningField;
        this.metrics = metrics;
    }

    public void handle(Exchange exchange, byte[] body, long arrivalNanos) throws ApiException {
        ModelRuntime rt = state.requireServing();
        JsonBodies.Parsed<ChatCompletionRequest> parsed = bodies.read(body, ChatCompletionRequest.class);
        ChatPlan plan = mapper.map(parsed.value(), parsed.tree(), rt.servedModelNames());
        SamplingResolver.requireStopIdsInVocabulary(parsed.value().stopTokenIds(), rt.codec().vocabSize());
        ChatPrompt prompt;
        try {
            prompt = rt.prompts().build(plan.input(), plan.output());
        } catch (InvalidPromptException e) {
            throw ApiException.invalid(e.getMessage(), e.param());
        }
        MediaProducer later = prompt.laterMedia();
        try {
            submit(exchange, parsed, plan, prompt, rt, arrivalNanos);
            if (later != null) {
                later.start(); // after submission: the engine prefills while the later chunks encode
            }
        } finally {
            if (later != null) {
                later.discard(); // no-op once started
            }
        }
    }

    private void submit(Exchange exchange, JsonBodies.Parsed<ChatCompletionRequest> parsed, ChatPlan plan,
                        ChatPrompt prompt, ModelRuntime rt, long arrivalNanos) throws ApiException {
        String param = parsed.value().maxCompletionTokens() != null ? "max_completion_tokens" : "max_tokens";
        int maxTokens = ContextCheck.maxTokens(plan.maxTokens(), prompt.length(), rt.engine().maxModelLen(), param);
        SamplingParams sampling = plan.sampling().apply(maxTokens);
        String id = "chatcmpl-" + UUID.randomUUID().toString().replace("-", "");
        ChatCall call = new ChatCall(exchange, plan, id, prompt.length(), rt.parsers(), reasoningField,
                new LogprobsMapper(rt.codec()), metrics, arrivalNanos, sampling.n(), keepAliveNanos);
        call.submit(rt.engine(), new GenerationRequest(id, prompt.tokenIds(), sampling, null, prompt.media(),
                prompt.laterMedia() == null ? null : prompt.laterMedia().target()).withConstraint(prompt.constraint()));
    }
}
