package io.peregrine.engine.vision;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.backend.cpu.CpuBackend;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.testing.TestData;
import io.peregrine.engine.vision.encoder.DataParallelVisionEncoder;
import io.peregrine.engine.vision.encoder.MoonVitEncoder;
import io.peregrine.engine.vision.encoder.VisionBatcher;
import io.peregrine.engine.vision.encoder.VisionEmbeddings;
import io.peregrine.engine.vision.encoder.VisionEncoder;
import io.peregrine.engine.vision.preprocess.ImagePreprocessor;
import io.peregrine.engine.vision.preprocess.PreprocessedImage;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Items of concurrent requests batched into one encoder pass ({@link VisionBatcher}) and a pass split over ranks
 * ({@link DataParallelVisionEncoder}): each caller gets its own item's embeddings, the same bits as one at a time.
 */
class VisionBatcherTest {

    static PreprocessedImage image(int width, int height, long seed) {
        byte[] rgb = new byte[width * height * 3];
        new Random(seed).nextBytes(rgb);
        return new ImagePreprocessor().image(new RgbImage(width, height, rgb), "img" + seed);
    }

    /** Records every pass; the first one holds until released, so the next callers queue behind it. */
    static final class RecordingEncoder implements VisionEncoder {
        final List<Integer> passSizes = Collections.synchronizedList(new ArrayList<>());
        final CountDownLatch firstPassEntered = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);

        @Override
        public VisionEmbeddings encode(PreprocessedImage image) {
            return encodeAll(List.of(image)).getFirst();
        }

        @Override
        public List<VisionEmbeddings> encodeAll(List<PreprocessedImage> images) {
            passSizes.add(images.size());
            if (firstPassEntered.getCount() > 0) {
                firstPassEntered.countDown();
                try {
                    release.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            }
            List<VisionEmbeddings> out = new ArrayList<>();
            for (PreprocessedImage img : images) {
                if (img.grid().w() == 2 && img.grid().h() == 2) {
                    throw new IllegalArgumentException("bad item " + img.sourceSha256());
                }
                out.add(new VisionEmbeddings(1, 1, new float[] {img.numPatches()}));
            }
            return out;
        }

        @Override
        public int outputHidden() {
            return 1;
        }

        @Override
        public void close() {}
    }

    @Test
    void itemsArrivingDuringAPassRunTogetherInTheNext() throws Exception {
        RecordingEncoder inner = new RecordingEncoder();
        VisionBatcher batcher = new VisionBatcher(inner, 1 << 20);
        try (ExecutorService threads = Executors.newFixedThreadPool(6)) {
            Future<VisionEmbeddings> first = threads.submit(() -> batcher.encode(image(56, 56, 0)));
            assertTrue(inner.firstPassEntered.await(10, TimeUnit.SECONDS));
            List<Future<VisionEmbeddings>> later = new ArrayList<>();
            int[] sides = {28, 84, 112, 140, 168};
            for (int side : sides) {
                later.add(threads.submit(() -> batcher.encode(image(side, 56, side))));
            }
            while (batcher.queued() < sides.length) {
                Thread.sleep(5);
            }
            inner.release.countDown();
            assertEquals(16, first.get().values()[0]);
            for (int i = 0; i < sides.length; i++) {
                assertEquals(sides[i] / 14 * 4, later.get(i).get().values()[0], "caller " + i + " got its own item");
            }
        }
        assertEquals(List.of(1, 5), inner.passSizes);
        assertEquals(2, batcher.passes());
        assertEquals(6, batcher.itemsEncoded());
    }

    @Test
    void aPassTakesTheOldestItemsUpToThePatchBudget() throws Exception {
        RecordingEncoder inner = new RecordingEncoder();
        VisionBatcher batcher = new VisionBatcher(inner, 40); // 16 + 16 fit, a third does not
        try (ExecutorService threads = Executors.newFixedThreadPool(5)) {
            Future<VisionEmbeddings> first = threads.submit(() -> batcher.encode(image(56, 56, 0)));
            assertTrue(inner.firstPassEntered.await(10, TimeUnit.SECONDS));
            List<Future<VisionEmbeddings>> later = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                later.add(threads.submit(() -> batcher.encode(image(56, 56, 1))));
                while (batcher.queued() < i + 1) {
                    Thread.sleep(5);
                }
            }
            inner.release.countDown();
            first.get();
            for (Future<VisionEmbeddings> f : later) {
                f.get();
            }
        }
        assertEquals(List.of(1, 2, 1), inner.passSizes);
    }

    @Test
    void aBadItemFailsOnlyItsOwnCaller() throws Exception {
        RecordingEncoder inner = new RecordingEncoder();
        VisionBatcher batcher = new VisionBatcher(inner, 1 << 20);
        try (ExecutorService threads = Executors.newFixedThreadPool(4)) {
            Future<VisionEmbeddings> first = threads.submit(() -> batcher.encode(image(56, 56, 0)));
            assertTrue(inner.firstPassEntered.await(10, TimeUnit.SECONDS));
            Future<VisionEmbeddings> good = threads.submit(() -> batcher.encode(image(84, 56, 1)));
            while (batcher.queued() < 1) {
                Thread.sleep(5);
            }
            Future<VisionEmbeddings> bad = threads.submit(() -> batcher.encode(image(20, 20, 2)));
            while (batcher.queued() < 2) {
                Thread.sleep(5);
            }
            inner.release.countDown();
            first.get();
            assertEquals(24, good.get().values()[0]);
            Exception e = assertThrows(java.util.concurrent.ExecutionException.class, bad::get);
            assertTrue(e.getCause() instanceof IllegalArgumentException, e.toString());
        }
    }

    @Test
    void loadBalancedAssignmentCoversEveryItemOnce() {
        long[] patches = {100, 7, 4096, 16, 2500, 2500, 900, 1, 64};
        int[] rankOf = DataParallelVisionEncoder.assign(patches, 3);
        long[] load = new long[3];
        for (int i = 0; i < patches.length; i++) {
            assertTrue(rankOf[i] >= 0 && rankOf[i] < 3);
            load[rankOf[i]] += patches[i];
        }
        long max = Arrays.stream(load).max().orElseThrow();
        long min = Arrays.stream(load).min().orElseThrow();
        assertTrue(max - min <= 4096, Arrays.toString(load)); // greedy: off by at most the largest item
        assertArrayEquals(new int[] {2, 2, 0, 2, 1, 2, 1, 2, 2}, rankOf); // deterministic: every rank plans alike
        assertArrayEquals(new int[] {0, 0, 0}, DataParallelVisionEncoder.assign(new long[] {5, 5, 5}, 1));
        assertArrayEquals(new int[] {0, 1}, DataParallelVisionEncoder.assign(new long[] {5, 5}, 4));
    }

    /** The real tower on the CPU backend: batched through concurrent callers, and split over two ranks. */
    @Test
    void batchedAndRankSplitEmbeddingsEqualOneAtATime() throws Exception {
        List<PreprocessedImage> items = List.of(image(97, 61, 1), image(300, 200, 2), image(150, 150, 3),
                image(28, 28, 4), image(420, 84, 5));
        try (Checkpoint ckpt = Checkpoint.open(TestData.tinyCheckpoint());
             CpuBackend b0 = new CpuBackend(1);
             CpuBackend b1 = new CpuBackend(1)) {
            MoonVitEncoder tower = MoonVitEncoder.load(ckpt, b0);
            List<float[]> alone = items.stream().map(i -> tower.encode(i).values()).toList();

            VisionBatcher batcher = new VisionBatcher(tower, 1 << 20);
            try (ExecutorService threads = Executors.newFixedThreadPool(items.size())) {
                List<Future<VisionEmbeddings>> fs = new ArrayList<>();
                for (PreprocessedImage img : items) {
                    fs.add(threads.submit(() -> batcher.encode(img)));
                }
                for (int i = 0; i < items.size(); i++) {
                    assertArrayEquals(alone.get(i), fs.get(i).get().values(), "batched item " + i);
                }
            }
            assertEquals(items.size(), batcher.itemsEncoded());

            try (DataParallelVisionEncoder dp = new DataParallelVisionEncoder(List.of(tower, MoonVitEncoder.load(ckpt, b1)))) {
                List<VisionEmbeddings> split = dp.encodeAll(items);
                for (int i = 0; i < items.size(); i++) {
                    assertArrayEquals(alone.get(i), split.get(i).values(), "rank-split item " + i);
                }
            }
        }
    }
}
