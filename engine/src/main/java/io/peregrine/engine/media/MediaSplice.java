package io.peregrine.engine.media;

import io.peregrine.engine.model.MediaSpan;
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

    /** The expanded prompt and where each item sits in it. */
    public record Spliced(int[] ids, List<MediaSpan> spans) {}

    /**
     * @throws IllegalArgumentException when the prompt's pad count differs from the item count (the template
     *                                  dropped or duplicated a media part)
     */
    public static Spliced expand(int[] ids, int padId, List<Item> items) {
        int pads = 0;
        for (int id : ids) {
            if (id == padId) {
                pads++;
            }
        }
        if (pads != items.size()) {
            throw new IllegalArgumentException("the rendered prompt has " + pads + " media placeholders for "
                    + items.size() + " vision items");
        }
        int extra = 0;
        for (Item it : items) {
            extra += it.embeddings().tokens() - 1;
        }
        int[] out = new int[ids.length + extra];
        List<MediaSpan> spans = new ArrayList<>(items.size());
        int o = 0;
        int next = 0;
        for (int id : ids) {
            if (id != padId) {
                out[o++] = id;
                continue;
            }
            Item it = items.get(next++);
            VisionEmbeddings e = it.embeddings();
            Arrays.fill(out, o, o + e.tokens(), padId);
            spans.add(new MediaSpan(o, e.tokens(), e.hidden(), e.values(), it.contentHash()));
            o += e.tokens();
        }
        return new Spliced(out, List.copyOf(spans));
    }
}
