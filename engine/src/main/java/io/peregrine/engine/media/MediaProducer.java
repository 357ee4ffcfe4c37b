package io.peregrine.engine.media;

import io.peregrine.engine.sched.PendingMedia;
import io.peregrine.engine.vision.decode.ImageDecodeException;
import io.peregrine.engine.vision.encoder.VisionEmbeddings;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Encodes the vision items a request was submitted without (all but its first: a PDF's later pages, a video's
 * later chunks) into its {@link PendingMedia}, one after the other in prompt order, on the media threads, while the
 * engine prefills what comes before them. Stops before the next item once the request has ended (the engine cancels the
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
        next(0);
    }

    /** The request was never submitted (or was rejected): releases the resources without encoding. */
    public void discard() {
        if (claimed.compareAndSet(false, true)) {
            target.cancel();
            close();
        }
    }

    /**
     * One item per task: each is queued behind whatever other requests queued meanwhile, so one request's 50
     * pages share the media threads with the single image of the next, instead of holding a thread for all 50.
     */
    private void next(int index) {
        try {
            executor.execute(() -> encode(index));
        } catch (RejectedExecutionException e) {
            target.fail("the media threads are shutting down", false);
            close();
        }
    }

    private void encode(int index) {
        boolean more = false;
        try {
            if (target.isCancelled()) {
                return;
            }
            MediaProcessor.Item it = items.get(index);
            VisionEmbeddings e = it.embeddings().get();
            if (e.tokens() != it.tokens()) {
                target.fail(it.cacheKey() + ": planned " + it.tokens() + " tokens, encoded " + e.tokens(), false);
                return;
            }
            target.complete(index, e.values());
            more = index + 1 < items.size();
        } catch (MediaInputException | ImageDecodeException e) {
            target.fail(e.getMessage(), true);
        } catch (RuntimeException e) {
            target.fail("encoding the media failed: " + e, false);
        } catch (Error e) {
            target.fail("encoding the media failed: " + e, false);
            throw e;
        } finally {
            if (more) {
                next(index + 1);
            } else {
                close();
            }
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
