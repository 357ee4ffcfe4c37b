package io.peregrine.server.wiring;

import io.peregrine.engine.chat.PromptEncoder;
import io.peregrine.engine.media.MediaInputException;
import io.peregrine.engine.media.MediaPart;
import io.peregrine.engine.media.MediaProcessor;
import io.peregrine.engine.media.MediaProducer;
import io.peregrine.engine.media.MediaSplice;
import io.peregrine.engine.tokenizer.SpecialTextPolicy;
import io.peregrine.engine.vision.decode.ImageDecodeException;
import io.peregrine.server.chat.EngineMessages;
import io.peregrine.server.media.MediaFetchException;
import io.peregrine.server.media.MediaMessages;
import io.peregrine.server.prompt.ChatInput;
import io.peregrine.server.prompt.ChatPrompt;
import io.peregrine.server.prompt.InvalidPromptException;
import java.util.ArrayList;
import java.util.List;

/**
 * The media side of a prompt: loads a conversation's images, videos and PDFs, plans them, renders the conversation
 * with one template part per image, page or video, and splices the vision tokens over the rendered pads (the first
 * item encoded now, the rest while the engine prefills).
 */
final class PromptMedia {
    private final KimiChatPromptBuilder.Multimodal media;

    PromptMedia(KimiChatPromptBuilder.Multimodal media) {
        this.media = media;
    }

    /**
     * @param encode false for counting: media are sized (image headers, PDF page boxes, video plans) but nothing is
     *               decoded, rendered or encoded, and the prompt carries ids only
     */
    ChatPrompt build(ChatInput input, TemplateRenderer renderer, boolean encode) throws InvalidPromptException {
        List<MediaPart> parts;
        try {
            parts = MediaMessages.load(input.messages(), input::partPath, media.fetcher()); // network and file I/O: fine on a virtual thread
        } catch (MediaFetchException e) {
            throw new InvalidPromptException(e.getMessage(), e.source());
        }
        MediaProcessor.Plan plan = null;
        ChatPrompt prompt = null;
        try {
            plan = media.onMediaThreads(() -> media.processor().plan(parts));
            MediaMessages.TemplateParts template = MediaMessages.templateParts(plan.parts());
            MediaProcessor.Plan planned = plan;
            prompt = KimiChatPromptBuilder.renderingErrorsAs400(() -> {
                var messages = EngineMessages.messages(input, template);
                template.requireAllUsed();
                return splice(renderer.encode(input, messages), planned, encode);
            });
            return prompt;
        } catch (MediaFetchException e) {
            throw new InvalidPromptException(e.getMessage(), e.source());
        } catch (MediaInputException | ImageDecodeException e) {
            throw new InvalidPromptException(e.getMessage(), input.conversation());
        } finally {
            // The producer of the later chunks owns the plan's open videos from here on.
            if (plan != null && (prompt == null || prompt.laterMedia() == null)) {
                plan.close();
            }
        }
    }

    private ChatPrompt splice(PromptEncoder.EncodedPrompt encoded, MediaProcessor.Plan plan, boolean encode) {
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
        MediaSplice.Streamed streamed = MediaSplice.expand(ids, pad, now, later, now.getFirst().embeddings().hidden());
        return new ChatPrompt(streamed.ids(), streamed.spans(),
                new MediaProducer(rest, streamed.pending(), plan, media.mediaThreads()));
    }
}
