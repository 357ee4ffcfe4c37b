package io.peregrine.engine.vision.encoder;

import io.peregrine.engine.vision.preprocess.PreprocessedImage;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * {@code --mm-encoder-tp-mode data}: every rank holds the whole (small: ~0.47 B parameters) tower and encodes a share
 * of a pass's items, instead of splitting each product's weights over the ranks (vLLM's {@code weights} mode), which
 * costs two collectives per block for a model this size. Items go to ranks by patch count, largest first to the
 * least loaded rank ({@link #assign}); each rank's share runs as one pass on its own encoder, concurrently, and the
 * embeddings come back in item order. An item's embeddings do not depend on the items it shares a pass with, so the
 * result is the one a single encoder gives.
 */
public final class DataParallelVisionEncoder implements VisionEncoder {
    private final List<VisionEncoder> ranks;
    private final ExecutorService pool;

    /** @param ranks one encoder per rank (each on its own device); closed with this one */
    public DataParallelVisionEncoder(List<VisionEncoder> ranks) {
        if (ranks.isEmpty()) {
            throw new IllegalArgumentException("no rank encoders");
        }
        int hidden = ranks.getFirst().outputHidden();
        for (VisionEncoder r : ranks) {
            if (r.outputHidden() != hidden) {
                throw new IllegalArgumentException("rank encoders disagree on the output width");
            }
        }
        this.ranks = List.copyOf(ranks);
        this.pool = Executors.newFixedThreadPool(ranks.size(), Thread.ofPlatform().daemon().name("vision-rank-", 0).factory());
    }

    /**
     * The rank of every item: items by patch count, largest first (ties by index), each to the rank with the fewest
     * patches so far (ties to the lower rank). Deterministic, so every rank computes the same plan.
     */
    public static int[] assign(long[] patches, int ranks) {
        if (ranks < 1) {
            throw new IllegalArgumentException("ranks must be positive: " + ranks);
        }
        Integer[] order = new Integer[patches.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> patches[a] != patches[b] ? Long.compare(patches[b], patches[a]) : Integer.compare(a, b));
        long[] load = new long[ranks];
        int[] rankOf = new int[patches.length];
        for (int i : order) {
            int best = 0;
            for (int r = 1; r < ranks; r++) {
                if (load[r] < load[best]) {
                    best = r;
                }
            }
            rankOf[i] = best;
            load[best] += patches[i];
        }
        return rankOf;
    }

    @Override
    public VisionEmbeddings encode(PreprocessedImage image) {
        return encodeAll(List.of(image)).getFirst();
    }

    @Override
    public List<VisionEmbeddings> encodeAll(List<PreprocessedImage> images) {
        long[] patches = new long[images.size()];
        for (int i = 0; i < patches.length; i++) {
            patches[i] = images.get(i).numPatches();
        }
        int[] rankOf = assign(patches, ranks.size());
        List<Future<List<VisionEmbeddings>>> shares = new ArrayList<>();
        List<List<Integer>> members = new ArrayList<>();
        for (int r = 0; r < ranks.size(); r++) {
            List<Integer> mine = new ArrayList<>();
            List<PreprocessedImage> share = new ArrayList<>();
            for (int i = 0; i < rankOf.length; i++) {
                if (rankOf[i] == r) {
                    mine.add(i);
                    share.add(images.get(i));
                }
            }
            members.add(mine);
            VisionEncoder enc = ranks.get(r);
            shares.add(share.isEmpty() ? null : pool.submit(() -> enc.encodeAll(share)));
        }
        VisionEmbeddings[] out = new VisionEmbeddings[images.size()];
        for (int r = 0; r < ranks.size(); r++) {
            if (shares.get(r) == null) {
                continue;
            }
            List<VisionEmbeddings> got;
            try {
                got = shares.get(r).get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while rank " + r + " encoded its share", e);
            } catch (java.util.concurrent.ExecutionException e) {
                if (e.getCause() instanceof RuntimeException re) {
                    throw re;
                }
                throw new IllegalStateException("rank " + r + " failed to encode its share", e.getCause());
            }
            for (int j = 0; j < got.size(); j++) {
                out[members.get(r).get(j)] = got.get(j);
            }
        }
        return List.of(out);
    }

    @Override
    public int outputHidden() {
        return ranks.getFirst().outputHidden();
    }

    @Override
    public void close() {
        pool.shutdownNow();
        ranks.forEach(VisionEncoder::close);
    }
}
