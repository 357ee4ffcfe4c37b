package io.peregrine.server.chat;

import io.peregrine.engine.media.MediaProducer;
import io.peregrine.engine.runtime.GenerationRequest;
import io.peregrine.engine.sample.SamplingParams;
import io.peregrine.server.http.ApiException;
import io.peregrine.server.http.ContextCheck;
import io.peregrine.server.prompt.ChatInput;
import io.peregrine.server.prompt.ChatPrompt;
import io.peregrine.server.prompt.InvalidPromptException;
import io.peregrine.server.sampling.SamplingResolver;
import io.peregrine.server.serving.ModelRuntime;
import io.peregrine.server.stream.GenerationCall;

/**
 * A planned chat-shaped request rendered and fitted into the context, ready to start: the one path from a
 * {@link ChatPlan} to the engine for every API that plans one. A handler prepares it, builds its call from
 * {@link #promptLength()} and {@link #sampling()}, and {@link #start starts} it; closing an unstarted one
 * discards the media it would have encoded.
 */
public final class Generation implements AutoCloseable {
    private final ModelRuntime rt;
    private final ChatPrompt prompt;
    private final SamplingParams sampling;

    private Generation(ModelRuntime rt, ChatPrompt prompt, SamplingParams sampling) {
        this.rt = rt;
        this.prompt = prompt;
        this.sampling = sampling;
    }

    /** Renders the plan's conversation and fits its max tokens into what the context leaves. */
    public static Generation prepare(ModelRuntime rt, ChatPlan plan) throws ApiException {
        SamplingResolver.requireStopIdsInVocabulary(plan.sampling().stopTokenIds(), rt.codec().vocabSize());
        if (plan.input().hasMedia()) {
            // Sized from the media headers and page boxes alone: a prompt that cannot fit is refused before any
            // page is rendered or image encoded (a 7 KB PDF can ask for minutes of that).
            ContextCheck.maxTokens(plan.maxTokens(), countPrompt(rt, plan.input()).length(),
                    rt.engine().maxModelLen(), plan.maxTokensField());
        }
        ChatPrompt prompt = render(rt, plan);
        try {
            int maxTokens = ContextCheck.maxTokens(plan.maxTokens(), prompt.length(), rt.engine().maxModelLen(),
                    plan.maxTokensField());
            return new Generation(rt, prompt, plan.sampling().forMaxTokens(maxTokens));
        } catch (ApiException | RuntimeException e) {
            discard(prompt);
            throw e;
        }
    }

    public int promptLength() {
        return prompt.length();
    }

    public SamplingParams sampling() {
        return sampling;
    }

    /** Submits to the engine with {@code call} answering the client; a long video's later chunks encode after. */
    public void start(String id, GenerationCall call) throws ApiException {
        MediaProducer later = prompt.laterMedia();
        call.submit(rt.engine(), new GenerationRequest(id, prompt.tokenIds(), sampling, null, prompt.media(),
                later == null ? null : later.target()).withConstraint(prompt.constraint())
                .withParser(prompt.parser()));
        if (later != null) {
            later.start(); // after submission: the engine prefills while the later chunks encode
        }
    }

    /** Discards the later media unless {@link #start} started them (then a no-op). */
    @Override
    public void close() {
        discard(prompt);
    }

    private static void discard(ChatPrompt prompt) {
        if (prompt.laterMedia() != null) {
            prompt.laterMedia().discard();
        }
    }

    /**
     * The prompt a conversation renders to, media included, for the token-counting endpoints of every API: exactly
     * what the same request would prefill. Nothing is generated, so a long video's later chunks are not encoded.
     */
    public static ChatPrompt countPrompt(ModelRuntime rt, ChatInput input) throws ApiException {
        try {
            ChatPrompt prompt = rt.prompts().build(input);
            discard(prompt);
            return prompt;
        } catch (InvalidPromptException e) {
            throw ApiException.invalid(e.getMessage(), e.param());
        }
    }

    /** The prompt to generate from, with its sampling constraint; a conversation that cannot render is a 400. */
    private static ChatPrompt render(ModelRuntime rt, ChatPlan plan) throws ApiException {
        try {
            return rt.prompts().build(plan.input(), plan.output());
        } catch (InvalidPromptException e) {
            throw ApiException.invalid(e.getMessage(), e.param());
        }
    }
}
