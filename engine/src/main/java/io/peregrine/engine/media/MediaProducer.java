package io.peregrine.engine.media;

import io.peregrine.engine.model.PendingMedia;
import io.peregrine.engine.vision.decode.ImageDecodeException;
import io.peregrine.engine.vision.encoder.VisionEmbeddings;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Encodes the vision items a request was submitted without (a long video's later chunks) into its
 * {@link PendingMedia}, one after the other in prompt order, on a media thread, while the engine prefills what
 * comes before them. Stops before the next item once the request has ended (the engine cancels the
 * {@link PendingMedia}); an item already inside FFmpeg or the tower finishes first, since neither can be
 * interrupted safely. Owns {@code resources} (the plan's open videos) and closes them when it stops, or at
 * {@link #discard} when it never starts.
 */
public final class MediaProducer {
    private final List<MediaProcessor.Item> items;
    private final PendingMedia target;
    private final AutoCloseable resources;
    private final Executor executor;
    private final AtomicBoolean claimed = new AtomicBoolean();

    /** @param items the items behind {@code target}'s slots, in the same order and of the same sizes */
    public MediaProducer(List<MediaProcessor.Item> items, PendingMedia target, AutoCloseable resources,
                         Executor executor) {
        if (items.size() != target.slots().size()) {
            throw new IllegalArgumentException(items.size() + " items for " + target.slots().size() + " pending spans");
        }
        this.items = List.copyOf(items);
        this.target = target;
        this.resources = resources;
        this.executor = executor;
    }

    /** Where the rows go; submit the request with it, then {@link #start}. */
    public PendingMedia target() {
        return target;
    }

    /** Starts encoding (once; later calls and calls after {@link #discard} do nothing). */
    public void start() {
        if (!claimed.compareAndSet(false, true)) {
            return;
        }
        try {
            executor.execute(this::run);
        } catch (RejectedExecutionException e) {
            target.fail("the media threads are shutting down", false);
            close();
        }
    }

    /** The request was never submitted (or was rejected): releases the resources without encoding. */
    public void discard() {
        if (claimed.compareAndSet(false, true)) {
            target.cancel();
            close();
        }
    }

    private void run() {
        try {
            for (int i = 0; i < items.size(); i++) {
                if (target.isCancelled()) {
                    return;
                }
                MediaProcessor.Item it = items.get(i);
                VisionEmbeddings e = it.embeddings().get();
                if (e.tokens() != it.tokens()) {
                    target.fail(it.cacheKey() + ": planned " + it.tokens() + " tokens, encoded " + e.tokens(), false);
                    return;
                }
                target.complete(i, e.values());
            }
        } catch (MediaInputException | ImageDecodeException e) {
            target.fail(e.getMessage(), true);
        } catch (RuntimeException e) {
            target.fail("encoding the media failed: " + e, false);
        } catch (Error e) {
            target.fail("encoding the media failed: " + e, false);
            throw e;
        } finally {
            close();
        }
    }

    private void close() {
        try {
            resources.close();
        } catch (Exception ignored) {
            // native handles of a request that is over: nothing left to save
        }
    }
}
