package io.peregrine.server.media;

import com.fasterxml.jackson.databind.JsonNode;
import io.peregrine.api.chat.ChatMessage;
import io.peregrine.engine.chat.ContentPart;
import io.peregrine.engine.media.MediaPart;
import io.peregrine.engine.media.MediaProcessor;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * Finds the media parts of a conversation, loads them, and afterwards tells what the chat template renders in each
 * one's place: one image part per image or PDF page, one video part per video. The template's parts carry no URL
 * payload, so megabytes of base64 never reach the renderer.
 */
public final class MediaMessages {
    private MediaMessages() {}

    /** Part types that carry media. */
    public static boolean isMediaType(String type) {
        return switch (type) {
            case "image_url", "input_image", "image", "video_url", "video", "file" -> true;
            default -> false;
        };
    }

    /** The client's path of content part {@code part} of message {@code message}, e.g. "input[2].content[1]". */
    @FunctionalInterface
    public interface PartPaths {
        String at(int message, int part);
    }

    /** Where the first media part is, or null when there is none. */
    public static String firstMedia(List<ChatMessage> messages, PartPaths paths) {
        for (int i = 0; i < messages.size(); i++) {
            JsonNode parts = messages.get(i).content();
            if (parts != null && parts.isArray()) {
                for (int j = 0; j < parts.size(); j++) {
                    if (isMediaType(parts.get(j).path("type").asText(""))) {
                        return paths.at(i, j);
                    }
                }
            }
        }
        return null;
    }

    /** Loads every media part in conversation order; a failure names the part's path. */
    public static List<MediaPart> load(List<ChatMessage> messages, PartPaths paths, MediaFetcher fetcher) {
        List<MediaPart> out = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            JsonNode parts = messages.get(i).content();
            if (parts == null || !parts.isArray()) {
                continue;
            }
            for (int j = 0; j < parts.size(); j++) {
                JsonNode part = parts.get(j);
                String type = part.path("type").asText("");
                if (part.isObject() && isMediaType(type)) {
                    out.add(load(type, part, paths.at(i, j), fetcher));
                }
            }
        }
        return out;
    }

    private static MediaPart load(String type, JsonNode part, String source, MediaFetcher fetcher) {
        switch (type) {
            case "video_url", "video" -> {
                FetchedMedia m = fetcher.fetch(url(part.get(type)), source);
                return new MediaPart.Video(m.bytes(), source);
            }
            case "file" -> {
                // OpenAI's file part: {"type": "file", "file": {"file_data": "data:application/pdf;base64,...", ...}}
                JsonNode f = part.get("file");
                if (f == null || !f.isObject()) {
                    throw new MediaFetchException(source, "a file part needs a 'file' object with 'file_data'");
                }
                if (!f.path("file_data").isTextual()) {
                    throw new MediaFetchException(source, f.hasNonNull("file_id")
                            ? "file_id is not supported (this server has no files API); send file_data as a data URL"
                            : "a file part needs 'file_data' (a data URL of a PDF)");
                }
                String data = f.get("file_data").textValue();
                boolean dataUrl = data.regionMatches(true, 0, "data:", 0, 5);
                if (!dataUrl && data.indexOf(':') > 0) {
                    // Base64 has no ':'; this is a URL. file_data carries the file's bytes, never a reference.
                    throw new MediaFetchException(source, data.regionMatches(true, 0, "file:", 0, 5)
                            ? "local files are not allowed in file_data; send the PDF's bytes as a data URL "
                                    + "(data:application/pdf;base64,...) or plain base64"
                            : "file_data must be a data URL (data:application/pdf;base64,...) or plain base64, not a URL");
                }
                String url = dataUrl ? data : "data:application/pdf;base64," + data;
                FetchedMedia m = fetcher.fetch(url, source);
                if (!m.looksLikePdf()) {
                    throw new MediaFetchException(source, "only PDF files are supported in file parts");
                }
                return new MediaPart.Pdf(m.bytes(), source);
            }
            default -> {
                FetchedMedia m = fetcher.fetch(url(part.get(type.equals("input_image") ? "image_url" : type)), source);
                return m.looksLikePdf() ? new MediaPart.Pdf(m.bytes(), source) : new MediaPart.Image(m.bytes(), source);
            }
        }
    }

    /** {@code {"url": "..."}} or the URL itself. */
    private static String url(JsonNode v) {
        if (v != null && v.isObject() && v.path("url").isTextual()) {
            return v.get("url").textValue();
        }
        return v != null && v.isTextual() ? v.textValue() : null;
    }

    /**
     * What the template renders in place of each media part, in the order {@link #load} found them:
     * {@code plans.get(k)} describes the k-th media part. Call {@link TemplateParts#requireAllUsed} after the
     * conversation is mapped.
     */
    public static TemplateParts templateParts(List<MediaProcessor.PartPlan> plans) {
        return new TemplateParts(plans);
    }

    /** Hands out each media part's template parts in turn; one per conversation. */
    public static final class TemplateParts implements Function<JsonNode, List<ContentPart>> {
        private final List<MediaProcessor.PartPlan> plans;
        private int next;

        private TemplateParts(List<MediaProcessor.PartPlan> plans) {
            this.plans = plans;
        }

        @Override
        public List<ContentPart> apply(JsonNode part) {
            int k = next++;
            MediaProcessor.PartPlan plan = plans.get(k);
            if (plan.part() instanceof MediaPart.Video) {
                return List.of(new ContentPart.Video("media:" + k));
            }
            List<ContentPart> pages = new ArrayList<>(plan.imageParts());
            for (int page = 0; page < plan.imageParts(); page++) {
                pages.add(new ContentPart.Image("media:" + k));
            }
            return pages;
        }

        public void requireAllUsed() {
            if (next != plans.size()) {
                throw new IllegalStateException("rewrote " + next + " media parts of " + plans.size());
            }
        }
    }
}
