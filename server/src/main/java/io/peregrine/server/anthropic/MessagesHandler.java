package io.peregrine.server.anthropic;

import io.peregrine.api.anthropic.MessagesRequest;
import io.peregrine.api.anthropic.TokenCount;
import io.peregrine.engine.constrain.ConstraintChain;
import io.peregrine.engine.media.MediaProducer;
import io.peregrine.engine.runtime.GenerationRequest;
import io.peregrine.engine.runtime.SamplingParams;
import io.peregrine.engine.runtime.TokenConstraint;
import io.peregrine.server.chat.ChatInput;
import io.peregrine.server.chat.ChatPlan;
import io.peregrine.server.chat.ChatPrompt;
import io.peregrine.server.chat.InvalidPromptException;
import io.peregrine.server.chat.OutputSpec;
import io.peregrine.server.http.ApiException;
import io.peregrine.server.http.ContextCheck;
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
        TokenConstraint.Factory budget = null;
        if (plan.thinkingBudget() != null) {
            budget = rt.prompts().thinkingBudget(plan.thinkingBudget());
            if (budget == null) {
                throw ApiException.unsupported("thinking.budget_tokens cannot be honoured for this model",
                        "thinking.budget_tokens");
            }
        }
        ChatPrompt prompt = build(rt, plan.chat().input(), plan.chat().output());
        // The budget applies last: it forces </think>, which a tool_choice rule allows while reasoning.
        prompt = prompt.withConstraint(ConstraintChain.of(prompt.constraint(), budget));
        MediaProducer later = prompt.laterMedia();
        try {
            submit(exchange, plan, prompt, rt, arrivalNanos);
            if (later != null) {
                later.start(); // after submission: the engine prefills while the later chunks encode
            }
        } finally {
            if (later != null) {
                later.discard(); // no-op once started
            }
        }
    }

    /** The prompt tokens the same request to {@code /v1/messages} would prefill (images included). */
    public TokenCount countTokens(byte[] body) throws ApiException {
        ModelRuntime rt = state.requireServing();
        JsonBodies.Parsed<MessagesRequest> parsed = bodies.read(body, MessagesRequest.class);
        MessagesPlan plan = mapper.map(parsed.value(), parsed.tree(), rt.servedModelNames(), true);
        ChatPrompt prompt = build(rt, plan.chat().input(), null);
        if (prompt.laterMedia() != null) {
            prompt.laterMedia().discard();
        }
        return new TokenCount(prompt.length());
    }

    private static ChatPrompt build(ModelRuntime rt, ChatInput input, OutputSpec output) throws ApiException {
        try {
            return output == null ? rt.prompts().build(input) : rt.prompts().build(input, output);
        } catch (InvalidPromptException e) {
            throw ApiException.invalid(e.getMessage(), e.param());
        }
    }

    private void submit(Exchange exchange, MessagesPlan plan, ChatPrompt prompt, ModelRuntime rt, long arrivalNanos)
            throws ApiException {
        ChatPlan chat = plan.chat();
        int maxTokens = ContextCheck.maxTokens(chat.maxTokens(), prompt.length(), rt.engine().maxModelLen(),
                "max_tokens");
        SamplingParams sampling = chat.sampling().apply(maxTokens);
        String id = "msg_" + UUID.randomUUID().toString().replace("-", "");
        MessagesCall call = new MessagesCall(exchange, plan, id, prompt.length(), rt.parsers(), metrics, arrivalNanos,
                keepAliveNanos);
        call.submit(rt.engine(), new GenerationRequest(id, prompt.tokenIds(), sampling, null, prompt.media(),
                prompt.laterMedia() == null ? null : prompt.laterMedia().target()).withConstraint(prompt.constraint()));
    }
}
