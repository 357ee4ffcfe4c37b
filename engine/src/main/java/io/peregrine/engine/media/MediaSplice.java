package io.peregrine.engine.media;

import io.peregrine.engine.sched.MediaSpan;
import io.peregrine.engine.sched.PendingMedia;
import io.peregrine.engine.vision.encoder.VisionEmbeddings;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The processor's token step (spec §4.8): the template writes one {@code <|media_pad|>} per vision item (an
 * image, a PDF page, a video chunk); each becomes as many pads as the item has LM positions, and those positions
 * take the item's embedding rows. Positions stay sequential.
 */
public final class MediaSplice {
    private MediaSplice() {}

    /** One encoded vision item in prompt order. */
    public record Item(VisionEmbeddings embeddings, long contentHash) {}

    /** One vision item still to be encoded: its size and content hash are known from the plan. */
    public record Later(int tokens, long contentHash) {}

    /** The expanded prompt and where each item sits in it. */
    public record Spliced(int[] ids, List<MediaSpan> spans) {}

    /**
     * The expanded prompt with the encoded items' spans, and the later items as {@link PendingMedia} (null when
     * there are none).
     */
    public record Streamed(int[] ids, List<MediaSpan> spans, PendingMedia pending) {}

    /**
     * @throws IllegalArgumentException when the prompt's pad count differs from the item count (the template
     *                                  dropped or duplicated a media part)
     */
    public static Spliced expand(int[] ids, int padId, List<Item> items) {
        Streamed s = expand(ids, padId, items, List.of(), 1);
        return new Spliced(s.ids(), s.spans());
    }

    /**
     * Like {@link #expand(int[], int, List)} for a prompt whose first pads take {@code encoded} and whose last
     * pads take {@code later}, which are only sized now: their rows arrive through the returned
     * {@link PendingMedia} of width {@code hidden}.
     */
    public static Streamed expand(int[] ids, int padId, List<Item> encoded, List<Later> later, int hidden) {
        int pads = 0;
        for (int id : ids) {
            if (id == padId) {
                pads++;
            }
        }
        int items = encoded.size() + later.size();
        if (pads != items) {
            throw new IllegalArgumentException("the rendered prompt has " + pads + " media placeholders for "
                    + items + " vision items");
        }
        int extra = 0;
        for (Item it : encoded) {
            extra += it.embeddings().tokens() - 1;
        }
        for (Later it : later) {
            extra += it.tokens() - 1;
        }
        int[] out = new int[ids.length + extra];
        List<MediaSpan> spans = new ArrayList<>(encoded.size());
        List<PendingMedia.Slot> slots = new ArrayList<>(later.size());
        int o = 0;
        int next = 0;
        for (int id : ids) {
            if (id != padId) {
                out[o++] = id;
                continue;
            }
            int k = next++;
            int tokens;
            if (k < encoded.size()) {
                Item it = encoded.get(k);
                VisionEmbeddings e = it.embeddings();
                tokens = e.tokens();
                spans.add(new MediaSpan(o, tokens, e.hidden(), e.values(), it.contentHash()));
            } else {
                Later it = later.get(k - encoded.size());
                tokens = it.tokens();
                slots.add(new PendingMedia.Slot(o, tokens, it.contentHash()));
            }
            Arrays.fill(out, o, o + tokens, padId);
            o += tokens;
        }
        return new Streamed(out, List.copyOf(spans), slots.isEmpty() ? null : new PendingMedia(hidden, slots));
    }
}
