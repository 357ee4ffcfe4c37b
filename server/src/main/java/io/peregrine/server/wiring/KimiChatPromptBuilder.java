package io.peregrine.server.wiring;

import io.peregrine.engine.chat.PromptEncoder;
import io.peregrine.engine.media.MediaProcessor;
import io.peregrine.engine.tokenizer.KimiTokenizer;
import io.peregrine.server.chat.EngineMessages;
import io.peregrine.server.media.MediaFetcher;
import io.peregrine.server.media.MediaMessages;
import io.peregrine.server.prompt.ChatInput;
import io.peregrine.server.prompt.ChatPrompt;
import io.peregrine.server.prompt.ChatPromptBuilder;
import io.peregrine.server.prompt.InvalidPromptException;
import io.peregrine.server.prompt.OutputSpec;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

/**
 * Builds the prompt of a validated chat request: the api records map straight to the engine's message model
 * ({@link EngineMessages}), the checkpoint's template renders them ({@link TemplateRenderer}), media are loaded and
 * spliced in ({@link PromptMedia}), and what the output must obey becomes a sampling constraint and how it is split
 * the engine's parser ({@link OutputConstraints}).
 */
public final class KimiChatPromptBuilder implements ChatPromptBuilder {
    private final TemplateRenderer renderer;
    private final OutputConstraints constraints;
    private final Multimodal media;
    private final PromptMedia mediaPrompts;

    /**
     * What images, videos and PDFs need: where their bytes may come from, the vision pipeline, the tokenizer (video
     * placeholders are expanded after rendering, so the prompt is tokenized again), and the platform threads that
     * decode and encode. Request threads are virtual; FFmpeg, PDFBox rendering and ONNX Runtime are long native or
     * CPU-bound calls that would pin their carriers, so they run on this bounded pool instead.
     */
    public record Multimodal(MediaFetcher fetcher, MediaProcessor processor, KimiTokenizer tokenizer,
                             ExecutorService mediaThreads) {

        public static ExecutorService defaultThreads() {
            int n = Math.max(1, Runtime.getRuntime().availableProcessors() / 2);
            return Executors.newFixedThreadPool(n, Thread.ofPlatform().name("peregrine-media-", 0).daemon(true).factory());
        }

        <T> T onMediaThreads(Supplier<T> work) {
            try {
                return CompletableFuture.supplyAsync(work, mediaThreads).join();
            } catch (CompletionException e) {
                if (e.getCause() instanceof RuntimeException r) {
                    throw r;
                }
                if (e.getCause() instanceof Error err) {
                    throw err;
                }
                throw e;
            }
        }
    }

    /** A text-only builder: media parts get a 400. */
    public KimiChatPromptBuilder(PromptEncoder encoder) {
        this(encoder, null);
    }

    /** @param media null when the checkpoint has no vision tower */
    public KimiChatPromptBuilder(PromptEncoder encoder, Multimodal media) {
        this.renderer = new TemplateRenderer(encoder);
        this.constraints = new OutputConstraints(encoder.tokenizer());
        this.media = media;
        this.mediaPrompts = media == null ? null : new PromptMedia(media);
    }

    /** The media side, or null for a text-only checkpoint. */
    public Multimodal multimodal() {
        return media;
    }

    @Override
    public ChatPrompt build(ChatInput input, OutputSpec output) throws InvalidPromptException {
        return build(input, true).withConstraint(constraints.of(input, output)).withParser(constraints.parser(output));
    }

    /**
     * Renders without constraints (tool_choice only shapes the prompt here: none drops the tools), for counting:
     * media are sized (image headers, PDF page boxes, video plans) but nothing is decoded, rendered or encoded, so
     * the count costs what reading the request costs. The ids are the prompt's, pads expanded; no embeddings.
     */
    @Override
    public ChatPrompt build(ChatInput input) throws InvalidPromptException {
        return build(input, false);
    }

    private ChatPrompt build(ChatInput input, boolean encode) throws InvalidPromptException {
        String firstMedia = MediaMessages.firstMedia(input.messages(), input::partPath);
        if (firstMedia == null) {
            return renderingErrorsAs400(() -> new ChatPrompt(
                    renderer.encode(input, EngineMessages.messages(input, null)).ids()));
        }
        if (mediaPrompts == null) {
            throw new InvalidPromptException("image, video and file inputs are not supported: this model has no "
                    + "vision tower", firstMedia);
        }
        return mediaPrompts.build(input, renderer, encode);
    }

    /** A conversation the engine's message model or template refuses is the client's error, a 400. */
    static ChatPrompt renderingErrorsAs400(Supplier<ChatPrompt> rendering) throws InvalidPromptException {
        try {
            return rendering.get();
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new InvalidPromptException(e.getMessage(), null);
        }
    }
}
