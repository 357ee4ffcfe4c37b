package io.peregrine.server.chat;

import io.peregrine.api.chat.ChatCompletionRequest;
import io.peregrine.engine.media.MediaProducer;
import io.peregrine.engine.runtime.GenerationRequest;
import io.peregrine.engine.sample.SamplingParams;
import io.peregrine.server.http.ApiException;
import io.peregrine.server.http.ContextCheck;
import io.peregrine.server.http.Exchange;
import io.peregrine.server.http.GenerationCall;
import io.peregrine.server.http.JsonBodies;
import io.peregrine.server.metrics.ServerMetrics;
import io.peregrine.server.sampling.SamplingResolver;
import io.peregrine.server.serving.ModelRuntime;
import io.peregrine.server.serving.ServingState;
import java.util.UUID;

/** {@code POST /v1/chat/completions}: validate, render, check the context, submit. Runs on a request thread. */
public final class ChatHandler {

    /** Builds the call that answers the client once the prompt is rendered and the sampling is final. */
    @FunctionalInterface
    public interface CallFactory {
        GenerationCall create(ChatPrompt prompt, SamplingParams sampling);
    }

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
        String param = parsed.value().maxCompletionTokens() != null ? "max_completion_tokens" : "max_tokens";
        String id = "chatcmpl-" + UUID.randomUUID().toString().replace("-", "");
        submit(plan, rt, id, param, (prompt, sampling) -> new ChatCall(exchange, plan, id, prompt.length(),
                reasoningField, new LogprobsMapper(rt.codec()), metrics, arrivalNanos, sampling.n(),
                keepAliveNanos));
    }

    /**
     * Renders the plan's conversation, fits max_tokens into the context and submits it: the one path from a
     * {@link ChatPlan} to the engine, shared by every API that maps onto chat (the Responses API too).
     *
     * @param maxTokensParam the client's name for the max-tokens field, for the context-overflow error
     */
    public static void submit(ChatPlan plan, ModelRuntime rt, String id, String maxTokensParam, CallFactory calls)
            throws ApiException {
        if (plan.input().hasMedia()) {
            // Sized from the media headers and page boxes alone: a prompt that cannot fit is refused before any
            // page is rendered or image encoded (a 7 KB PDF can ask for minutes of that).
            ContextCheck.maxTokens(plan.maxTokens(), renderForCounting(rt, plan.input()).length(),
                    rt.engine().maxModelLen(), maxTokensParam);
        }
        ChatPrompt prompt = render(rt, plan);
        MediaProducer later = prompt.laterMedia();
        try {
            int maxTokens = ContextCheck.maxTokens(plan.maxTokens(), prompt.length(), rt.engine().maxModelLen(),
                    maxTokensParam);
            SamplingParams sampling = plan.sampling().apply(maxTokens);
            GenerationCall call = calls.create(prompt, sampling);
            call.submit(rt.engine(), new GenerationRequest(id, prompt.tokenIds(), sampling, null, prompt.media(),
                    later == null ? null : later.target()).withConstraint(prompt.constraint()).withParser(prompt.parser()));
            if (later != null) {
                later.start(); // after submission: the engine prefills while the later chunks encode
            }
        } finally {
            if (later != null) {
                later.discard(); // no-op once started
            }
        }
    }

    /**
     * The prompt a conversation renders to, media included, for the token-counting endpoints of every API: exactly
     * what the same request would prefill. Nothing is generated, so a long video's later chunks are not encoded.
     */
    public static ChatPrompt renderForCounting(ModelRuntime rt, ChatInput input) throws ApiException {
        try {
            ChatPrompt prompt = rt.prompts().build(input);
            if (prompt.laterMedia() != null) {
                prompt.laterMedia().discard();
            }
            return prompt;
        } catch (InvalidPromptException e) {
            throw ApiException.invalid(e.getMessage(), e.param());
        }
    }

    /** The prompt to generate from, with its sampling constraint; a conversation that cannot render is a 400. */
    public static ChatPrompt render(ModelRuntime rt, ChatPlan plan) throws ApiException {
        try {
            return rt.prompts().build(plan.input(), plan.output());
        } catch (InvalidPromptException e) {
            throw ApiException.invalid(e.getMessage(), e.param());
        }
    }
}
