package io.peregrine.server.media;

import io.peregrine.engine.media.MediaPart;
import io.peregrine.engine.media.MediaProcessor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Finds the media parts of a conversation (its JSON shape: lists and maps), loads them, and afterwards rewrites each
 * into what the chat template renders: one image part per image or PDF page, one video part per video. The
 * rewritten parts carry no URL payload, so megabytes of base64 never reach the template renderer.
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

    /** Where the first media part is ("messages[i].content[j]"), or null when there is none. */
    public static String firstMedia(List<?> messages) {
        for (int i = 0; i < messages.size(); i++) {
            if (messages.get(i) instanceof Map<?, ?> msg && msg.get("content") instanceof List<?> parts) {
                for (int j = 0; j < parts.size(); j++) {
                    if (parts.get(j) instanceof Map<?, ?> part && part.get("type") instanceof String t && isMediaType(t)) {
                        return "messages[" + i + "].content[" + j + "]";
                    }
                }
            }
        }
        return null;
    }

    /** Loads every media part in conversation order. */
    public static List<MediaPart> load(List<?> messages, MediaFetcher fetcher) {
        List<MediaPart> out = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            if (!(messages.get(i) instanceof Map<?, ?> msg) || !(msg.get("content") instanceof List<?> parts)) {
                continue;
            }
            for (int j = 0; j < parts.size(); j++) {
                if (!(parts.get(j) instanceof Map<?, ?> part) || !(part.get("type") instanceof String type)
                        || !isMediaType(type)) {
                    continue;
                }
                String source = "messages[" + i + "].content[" + j + "]";
                out.add(load(type, part, source, fetcher));
            }
        }
        return out;
    }

    private static MediaPart load(String type, Map<?, ?> part, String source, MediaFetcher fetcher) {
        switch (type) {
            case "video_url", "video" -> {
                FetchedMedia m = fetcher.fetch(url(part.get(type)), source);
                return new MediaPart.Video(m.bytes(), source);
            }
            case "file" -> {
                // OpenAI's file part: {"type": "file", "file": {"file_data": "data:application/pdf;base64,...", ...}}
                Object file = part.get("file");
                if (!(file instanceof Map<?, ?> f)) {
                    throw new MediaFetchException(source, "a file part needs a 'file' object with 'file_data'");
                }
                if (!(f.get("file_data") instanceof String data)) {
                    throw new MediaFetchException(source, f.get("file_id") != null
                            ? "file_id is not supported (this server has no files API); send file_data as a data URL"
                            : "a file part needs 'file_data' (a data URL of a PDF)");
                }
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

    private static String url(Object v) {
        if (v instanceof Map<?, ?> m && m.get("url") instanceof String s) {
            return s;
        }
        return v instanceof String s ? s : null;
    }

    /**
     * The conversation with each media part replaced by its template parts, in the order {@link #load} found them:
     * {@code plans.get(k)} describes the k-th media part.
     */
    public static List<Object> rewrite(List<?> messages, List<MediaProcessor.PartPlan> plans) {
        List<Object> out = new ArrayList<>(messages.size());
        int k = 0;
        for (Object m : messages) {
            if (!(m instanceof Map<?, ?> msg) || !(msg.get("content") instanceof List<?> parts)) {
                out.add(m);
                continue;
            }
            List<Object> content = new ArrayList<>();
            for (Object p : parts) {
                if (!(p instanceof Map<?, ?> part) || !(part.get("type") instanceof String type) || !isMediaType(type)) {
                    content.add(p);
                    continue;
                }
                MediaProcessor.PartPlan plan = plans.get(k++);
                if (plan.part() instanceof MediaPart.Video) {
                    content.add(Map.of("type", "video_url", "video_url", Map.of("url", "media:" + (k - 1))));
                } else {
                    for (int page = 0; page < plan.imageParts(); page++) {
                        content.add(Map.of("type", "image_url", "image_url", Map.of("url", "media:" + (k - 1))));
                    }
                }
            }
            Map<Object, Object> copy = new LinkedHashMap<>(msg);
            copy.put("content", content);
            out.add(copy);
        }
        if (k != plans.size()) {
            throw new IllegalStateException("rewrote " + k + " media parts of " + plans.size());
        }
        return out;
    }
}
