package io.peregrine.engine.vision.encoder;

import io.peregrine.engine.vision.preprocess.PreprocessedImage;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * Vision items from concurrent requests encoded together: every {@link #encode} call queues its item; a caller that
 * finds no pass running becomes the leader, takes what is queued (oldest first, up to {@code maxPassPatches}
 * patches, at least one item) and runs it as one {@link VisionEncoder#encodeAll} pass, while later callers queue
 * for the next one. Nothing waits on a timer: a lone request runs at once, and the items that arrive during a pass
 * make up the next. The media threads of all requests call in (each request's items on its own tasks), so this is
 * where a step's pending media meet; the encoder cache sits above, unchanged: a hit never gets here.
 *
 * <p>A pass that fails is retried one item at a time, so a bad item fails its own request and no other.
 */
public final class VisionBatcher implements VisionEncoder {

    private record Pending(PreprocessedImage image, CompletableFuture<VisionEmbeddings> result) {}

    private final VisionEncoder inner;
    private final long maxPassPatches;
    private final ArrayDeque<Pending> queue = new ArrayDeque<>();
    private boolean passRunning;
    private long passes;
    private long itemsEncoded;

    /** @param maxPassPatches patches per pass (activation memory scales with them); one larger item still runs alone */
    public VisionBatcher(VisionEncoder inner, long maxPassPatches) {
        if (maxPassPatches < 1) {
            throw new IllegalArgumentException("maxPassPatches must be positive: " + maxPassPatches);
        }
        this.inner = inner;
        this.maxPassPatches = maxPassPatches;
    }

    @Override
    public VisionEmbeddings encode(PreprocessedImage image) {
        Pending mine = new Pending(image, new CompletableFuture<>());
        synchronized (this) {
            queue.add(mine);
        }
        while (!mine.result().isDone()) {
            List<Pending> pass;
            synchronized (this) {
                while (passRunning && !mine.result().isDone()) {
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        // our item may already be in a running pass: let it finish there, but stop waiting for it
                        queue.remove(mine);
                        throw new IllegalStateException("interrupted while waiting for the vision encoder", e);
                    }
                }
                if (mine.result().isDone()) {
                    break;
                }
                passRunning = true;
                pass = take();
            }
            try {
                run(pass);
            } finally {
                synchronized (this) {
                    passRunning = false;
                    notifyAll();
                }
            }
        }
        try {
            return mine.result().join();
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

    /** Oldest first up to the patch budget; the first item always. Under the monitor. */
    private List<Pending> take() {
        List<Pending> pass = new ArrayList<>();
        long patches = 0;
        while (!queue.isEmpty()) {
            long next = queue.peek().image().numPatches();
            if (!pass.isEmpty() && patches + next > maxPassPatches) {
                break;
            }
            patches += next;
            pass.add(queue.poll());
        }
        return pass;
    }

    private void run(List<Pending> pass) {
        List<PreprocessedImage> images = new ArrayList<>(pass.size());
        for (Pending p : pass) {
            images.add(p.image());
        }
        try {
            List<VisionEmbeddings> out = inner.encodeAll(images);
            for (int i = 0; i < pass.size(); i++) {
                pass.get(i).result().complete(out.get(i));
            }
            count(pass.size());
        } catch (RuntimeException | Error e) {
            if (pass.size() == 1) {
                pass.getFirst().result().completeExceptionally(e);
                return;
            }
            for (Pending p : pass) { // find the bad item: each alone, each with its own outcome
                try {
                    p.result().complete(inner.encode(p.image()));
                    count(1);
                } catch (RuntimeException | Error each) {
                    p.result().completeExceptionally(each);
                }
            }
        }
    }

    private synchronized void count(int items) {
        passes++;
        itemsEncoded += items;
    }

    /** Passes run so far (each one {@code encodeAll} of the inner encoder that succeeded). */
    public synchronized long passes() {
        return passes;
    }

    public synchronized long itemsEncoded() {
        return itemsEncoded;
    }

    /** Items queued and not yet taken into a pass. */
    public synchronized int queued() {
        return queue.size();
    }

    @Override
    public int outputHidden() {
        return inner.outputHidden();
    }

    @Override
    public void close() {
        inner.close();
    }
}
