package io.peregrine.server.wiring;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.api.json.Json;
import io.peregrine.engine.chat.ChatMessage;
import io.peregrine.engine.chat.OpenAiShapes;
import io.peregrine.engine.chat.PromptEncoder;
import io.peregrine.engine.chat.RenderOptions;
import io.peregrine.engine.chat.Tool;
import io.peregrine.engine.constrain.ConstraintChain;
import io.peregrine.engine.constrain.OutputGrammars;
import io.peregrine.engine.constrain.TokenBytesIndex;
import io.peregrine.engine.constrain.ThinkingBudget;
import io.peregrine.engine.constrain.ToolCallConstraint;
import io.peregrine.engine.constrain.ToolCallRule;
import io.peregrine.engine.parse.MarkerIds;
import io.peregrine.engine.parse.OutputParser;
import io.peregrine.engine.runtime.TokenConstraint;
import io.peregrine.engine.media.MediaInputException;
import io.peregrine.engine.media.MediaPart;
import io.peregrine.engine.media.MediaProducer;
import io.peregrine.engine.media.MediaProcessor;
import io.peregrine.engine.media.MediaSplice;
import io.peregrine.engine.tokenizer.KimiTokenizer;
import io.peregrine.engine.tokenizer.SpecialTextPolicy;
import io.peregrine.engine.vision.decode.ImageDecodeException;
import io.peregrine.server.media.MediaFetchException;
import io.peregrine.server.media.MediaFetcher;
import io.peregrine.server.media.MediaMessages;
import io.peregrine.server.chat.ChatInput;
import io.peregrine.server.chat.ChatPrompt;
import io.peregrine.server.chat.ChatPromptBuilder;
import io.peregrine.server.chat.InvalidPromptException;
import io.peregrine.server.chat.OutputSpec;
import io.peregrine.server.chat.ToolChoice;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

/**
 * Renders a validated chat request with the checkpoint's own template (engine {@link PromptEncoder}): the api
 * records go through their JSON shape into the engine's message model, so the engine never sees Jackson types.
 */
public final class KimiChatPromptBuilder implements ChatPromptBuilder {
    private final PromptEncoder encoder;
    private final Multimodal media;
    private final ObjectMapper json = Json.newMapper();

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
        this.encoder = encoder;
        this.media = media;
    }

    /** The media side, or null for a text-only checkpoint. */
    public Multimodal multimodal() {
        return media;
    }

    @Override
    public ChatPrompt build(ChatInput input, OutputSpec output) throws InvalidPromptException {
        // In instant mode there is no reasoning to cap: a budget holds trivially.
        TokenConstraint.Factory budget = output.thinkingBudget() == null || !output.thinking().enabled() ? null
                : ThinkingBudget.factory(vocabulary().markers(), output.thinkingBudget());
        // The budget applies last: it forces </think>, which a tool-call rule allows while reasoning.
        TokenConstraint.Factory constraint = ConstraintChain.of(toolConstraint(input, output), budget);
        // The engine splits each choice's output with Kimi's token-id parser, from where the output starts.
        return build(input, true).withConstraint(constraint)
                .withParser(OutputParser.factory(vocabulary().markers(), output.thinking().enabled()));
    }

    /**
     * What the output must obey, as a sampling constraint ({@link ToolCallConstraint}): tool_choice
     * {@code required} or a named function make the model call (one of) the declared functions once its reasoning
     * ends; under auto a call it starts is held to the declared names and ids. Every call's arguments follow the
     * function's grammar (its schema when strict, else any JSON object), and a response_format makes the answer
     * JSON. null when nothing constrains the output (no tools, or tool_choice none, and free text).
     */
    private TokenConstraint.Factory toolConstraint(ChatInput input, OutputSpec output) throws InvalidPromptException {
        List<String> declared = new ArrayList<>();
        Set<String> parameterless = new HashSet<>();
        for (io.peregrine.api.chat.Tool t : input.tools()) {
            declared.add(t.function().name());
            if (takesNoArguments(t.function().parameters())) {
                parameterless.add(t.function().name());
            }
        }
        OutputGrammars grammars = output.grammars();
        ToolCallRule rule = switch (input.toolChoice()) {
            case ToolChoice.Named n -> {
                if (!declared.contains(n.name())) {
                    throw new InvalidPromptException("tool_choice names function '" + n.name()
                            + "', which is not in 'tools'", "tool_choice");
                }
                yield new ToolCallRule.Named(n.name(), output.priorToolCalls(), parameterless.contains(n.name()));
            }
            case ToolChoice.Required r -> {
                if (declared.isEmpty()) {
                    throw new InvalidPromptException("tool_choice 'required' needs 'tools'", "tool_choice");
                }
                yield new ToolCallRule.Required(declared, output.parallelToolCalls(), parameterless,
                        output.priorToolCalls());
            }
            case ToolChoice.None none -> grammars.content() == null ? null
                    : new ToolCallRule.Auto(List.of(), false, Set.of(), output.priorToolCalls());
            case null, default -> declared.isEmpty() && grammars.content() == null ? null
                    : new ToolCallRule.Auto(declared, output.parallelToolCalls(), parameterless, output.priorToolCalls());
        };
        if (rule == null) {
            return null;
        }
        return ToolCallConstraint.factory(rule, grammars, vocabulary().markers(), vocabulary().tokens(),
                output.thinking().enabled()); // where the output starts: in reasoning or not (partial mode)
    }

    /**
     * A function that declares no parameters (no schema, or an object schema without properties): its only
     * faithful arguments are {@code {}}, which the constraint then forces instead of leaving them to the model.
     */
    static boolean takesNoArguments(JsonNode parameters) {
        if (parameters == null || parameters.isNull()) {
            return true;
        }
        JsonNode props = parameters.get("properties");
        return parameters.isObject() && (props == null || props.isObject() && props.isEmpty())
                && !parameters.has("additionalProperties") && !parameters.has("patternProperties")
                && !parameters.has("anyOf") && !parameters.has("oneOf") && !parameters.has("allOf")
                && !parameters.has("$ref");
    }

    /** The tokenizer's marker ids and token bytes, indexed on first use (163,840 tokens: tens of milliseconds). */
    private record Vocabulary(MarkerIds markers, TokenBytesIndex tokens) {}

    private volatile Vocabulary vocabulary;

    private Vocabulary vocabulary() {
        Vocabulary v = vocabulary;
        if (v == null) {
            synchronized (this) {
                v = vocabulary;
                if (v == null) {
                    KimiTokenizer t = encoder.tokenizer();
                    v = new Vocabulary(MarkerIds.from(t), TokenBytesIndex.of(t::tokenBytes, t.numRegularTokens()));
                    vocabulary = v;
                }
            }
        }
        return v;
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
        List<?> rawMessages = json.convertValue(input.messages(), List.class);
        String firstMedia = MediaMessages.firstMedia(rawMessages);
        if (firstMedia == null) {
            return render(input, rawMessages, null, encode);
        }
        if (media == null) {
            throw new InvalidPromptException("image, video and file inputs are not supported: this model has no "
                    + "vision tower", firstMedia);
        }
        List<MediaPart> parts;
        try {
            parts = MediaMessages.load(rawMessages, media.fetcher()); // network and file I/O: fine on a virtual thread
        } catch (MediaFetchException e) {
            throw new InvalidPromptException(e.getMessage(), e.source());
        }
        MediaProcessor.Plan plan = null;
        ChatPrompt prompt = null;
        try {
            plan = media.onMediaThreads(() -> media.processor().plan(parts));
            prompt = render(input, MediaMessages.rewrite(rawMessages, plan.parts()), plan, encode);
            return prompt;
        } catch (MediaFetchException e) {
            throw new InvalidPromptException(e.getMessage(), e.source());
        } catch (MediaInputException | ImageDecodeException e) {
            throw new InvalidPromptException(e.getMessage(), "messages");
        } finally {
            // The producer of the later chunks owns the plan's open videos from here on.
            if (plan != null && (prompt == null || prompt.laterMedia() == null)) {
                plan.close();
            }
        }
    }

    private ChatPrompt render(ChatInput input, List<?> rawMessages, MediaProcessor.Plan plan, boolean encode)
            throws InvalidPromptException {
        try {
            List<ChatMessage> messages = OpenAiShapes.messages(rawMessages);
            boolean toolsOff = input.toolChoice() instanceof ToolChoice.None;
            List<Tool> tools = toolsOff || input.tools().isEmpty()
                    ? List.of() : OpenAiShapes.tools(json.convertValue(input.tools(), List.class));
            boolean preserve = input.thinking().keep() != null && input.thinking().keep().equals("all")
                    || flag(input.templateKwargs(), "preserve_thinking");
            RenderOptions options = new RenderOptions(input.addGenerationPrompt(), input.thinking().enabled(), preserve,
                    input.continueFinalMessage(), templateKwargs(input.templateKwargs()));
            PromptEncoder.EncodedPrompt encoded = encoder.encode(messages, tools, options, SpecialTextPolicy.AS_TEXT);
            if (plan == null) {
                return new ChatPrompt(encoded.ids());
            }
            int[] ids = encoded.ids();
            List<String> videoTexts = new ArrayList<>();
            for (MediaProcessor.PartPlan p : plan.parts()) {
                if (p.videoPrompt() != null) {
                    videoTexts.add(p.videoPrompt());
                }
            }
            if (!videoTexts.isEmpty()) {
                ids = encoded.rendered().expandVideoTexts(videoTexts).tokenize(media.tokenizer(), SpecialTextPolicy.AS_TEXT);
            }
            int pad = media.tokenizer().requireSpecialId("<|media_pad|>");
            if (!encode) {
                List<MediaSplice.Later> sizes = new ArrayList<>();
                for (MediaProcessor.Item it : plan.items()) {
                    sizes.add(new MediaSplice.Later(it.tokens(), it.contentHash()));
                }
                return new ChatPrompt(MediaSplice.expand(ids, pad, List.of(), sizes, 1).ids());
            }
            // The first item is encoded now; the others are sized now and encoded while the engine prefills
            // (MediaProducer), where an abort stops them.
            int from = plan.streamFrom();
            List<MediaSplice.Item> now = media.onMediaThreads(() -> plan.encode(from));
            List<MediaProcessor.Item> rest = plan.items().subList(from, plan.items().size());
            if (rest.isEmpty()) {
                MediaSplice.Spliced spliced = MediaSplice.expand(ids, pad, now);
                return new ChatPrompt(spliced.ids(), spliced.spans());
            }
            List<MediaSplice.Later> later = new ArrayList<>(rest.size());
            for (MediaProcessor.Item it : rest) {
                later.add(new MediaSplice.Later(it.tokens(), it.contentHash()));
            }
            MediaSplice.Streamed streamed = MediaSplice.expand(ids, pad, now, later,
                    now.getFirst().embeddings().hidden());
            return new ChatPrompt(streamed.ids(), streamed.spans(),
                    new MediaProducer(rest, streamed.pending(), plan, media.mediaThreads()));
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new InvalidPromptException(e.getMessage(), null);
        }
    }

    /** chat_template_kwargs as plain values, for a template rendered by the Jinja engine. */
    @SuppressWarnings("unchecked")
    private Map<String, Object> templateKwargs(JsonNode kwargs) {
        return kwargs == null || !kwargs.isObject() ? Map.of() : json.convertValue(kwargs, Map.class);
    }

    private static boolean flag(JsonNode kwargs, String name) {
        return kwargs != null && kwargs.path(name).asBoolean(false);
    }
}
