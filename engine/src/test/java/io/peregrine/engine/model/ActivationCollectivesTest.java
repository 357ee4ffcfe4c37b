package io.peregrine.engine.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.backend.Activation;
import io.peregrine.engine.backend.InPlaceCollectives;
import io.peregrine.engine.backend.Indices;
import io.peregrine.engine.backend.TensorMemory;
import io.peregrine.engine.dist.Communicator;
import io.peregrine.engine.dist.ShmCommunicator;
import io.peregrine.engine.dist.SingleRank;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sharded step's collectives by both paths, on two ranks in threads over {@code shm}: through host staging, and
 * in place (what NCCL on CUDA does), here with a memory whose activations are addressable segments and a
 * communicator that says it takes them. Same sums, same gathered logits; the in-place path copies nothing through
 * the host; the time and count of the collectives are kept.
 */
class ActivationCollectivesTest {
    @TempDir
    Path dir;

    /** fp32 tensors on the heap, each an addressable segment, with every host copy counted. */
    static final class HeapMemory implements TensorMemory, InPlaceCollectives {
        int hostCopies;

        record T(float[] data, int offset, int rows, int cols, int stride) implements Activation {
            @Override
            public Activation rows(int first, int count) {
                return new T(data, offset + first * stride, count, cols, stride);
            }

            @Override
            public Activation cols(int first, int count) {
                return new T(data, offset + first, rows, count, stride);
            }

            float get(int r, int c) {
                return data[offset + r * stride + c];
            }

            void set(int r, int c, float v) {
                data[offset + r * stride + c] = v;
            }
        }

        @Override
        public Activation allocate(int rows, int cols) {
            return new T(new float[rows * cols], 0, rows, cols, cols);
        }

        @Override
        public Indices allocateIndices(int length) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void copyIn(float[] src, int srcOff, Activation dst) {
            hostCopies++;
            T d = (T) dst;
            for (int r = 0; r < d.rows; r++) {
                for (int c = 0; c < d.cols; c++) {
                    d.set(r, c, src[srcOff + r * d.cols + c]);
                }
            }
        }

        @Override
        public void copyIn(int[] src, int srcOff, Indices dst) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void copyOut(Indices src, int[] dst, int dstOff) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void copyOut(Activation src, float[] dst, int dstOff) {
            hostCopies++;
            T s = (T) src;
            for (int r = 0; r < s.rows; r++) {
                for (int c = 0; c < s.cols; c++) {
                    dst[dstOff + r * s.cols + c] = s.get(r, c);
                }
            }
        }

        @Override
        public void copy(Activation src, Activation dst) {
            TensorMemory.sameShape(src, dst, "copy");
            T s = (T) src;
            T d = (T) dst;
            for (int r = 0; r < s.rows; r++) {
                for (int c = 0; c < s.cols; c++) {
                    d.set(r, c, s.get(r, c));
                }
            }
        }

        @Override
        public void zero(Activation x) {
            T t = (T) x;
            for (int r = 0; r < t.rows; r++) {
                for (int c = 0; c < t.cols; c++) {
                    t.set(r, c, 0);
                }
            }
        }

        @Override
        public MemorySegment segment(Activation a) {
            T t = (T) a;
            if (t.stride != t.cols && t.rows > 1) {
                throw new IllegalArgumentException("a column view has no single segment");
            }
            return MemorySegment.ofArray(t.data).asSlice(4L * t.offset, 4L * t.rows * t.cols);
        }
    }

    /** A host communicator that claims device buffers: the heap segments above stand in for device memory. */
    record OnDevice(Communicator inner) implements Communicator {
        public int rank() { return inner.rank(); }
        public int size() { return inner.size(); }
        public void allReduceSum(MemorySegment buf, long count) { inner.allReduceSum(buf, count); }
        public void allGather(MemorySegment s, long count, MemorySegment r) { inner.allGather(s, count, r); }
        public void reduceScatterSum(MemorySegment s, MemorySegment r, long count) { inner.reduceScatterSum(s, r, count); }
        public void allToAll(MemorySegment s, long[] sc, MemorySegment r, long[] rc) { inner.allToAll(s, sc, r, rc); }
        public void broadcast(MemorySegment buf, long count, int root) { inner.broadcast(buf, count, root); }
        public void barrier() { inner.barrier(); }
        public void close() { inner.close(); }
        @Override
        public boolean onDevice() { return true; }
    }

    record Outcome(float[] reduced, float[] logits, int hostCopies, CollectiveTime time) {}

    /** Rank r's activation: a 3×5 block, and its 2×4 vocabulary band of a 7-entry vocabulary (last band short). */
    private static Outcome play(Communicator c) {
        HeapMemory m = new HeapMemory();
        ActivationCollectives ac = new ActivationCollectives(c, m);
        HeapMemory.T x = (HeapMemory.T) m.allocate(3, 5);
        for (int i = 0; i < 15; i++) {
            x.data()[i] = (c.rank() + 1) * 1000f + i * 0.37f;
        }
        ac.allReduceSum(x);
        HeapMemory.T band = (HeapMemory.T) m.allocate(2, 4);
        for (int i = 0; i < 8; i++) {
            band.data()[i] = c.rank() * 100 + i;
        }
        HeapMemory.T full = (HeapMemory.T) m.allocate(2, 7);
        ac.allGatherVocab(band, full);
        ac.allGatherVocab(band, full); // the second gather reuses the buffers
        return new Outcome(x.data(), full.data(), m.hostCopies, ac.time());
    }

    private <T> List<T> twoRanks(Function<Communicator, Communicator> wrap, Function<Communicator, T> body)
            throws Exception {
        Path file = dir.resolve("g" + System.nanoTime());
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            List<Future<T>> fs = new ArrayList<>();
            for (int r = 0; r < 2; r++) {
                int rank = r;
                fs.add(pool.submit(() -> {
                    try (ShmCommunicator c = ShmCommunicator.open(file, rank, 2, 1024, Duration.ofSeconds(30))) {
                        return body.apply(wrap.apply(c));
                    }
                }));
            }
            List<T> out = new ArrayList<>();
            for (Future<T> f : fs) {
                out.add(f.get(30, TimeUnit.SECONDS));
            }
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void inPlaceAndStagedGiveTheSameSumsAndLogitsAndInPlaceCopiesNothingThroughTheHost() throws Exception {
        List<Outcome> staged = twoRanks(c -> c, ActivationCollectivesTest::play);
        List<Outcome> inPlace = twoRanks(OnDevice::new, ActivationCollectivesTest::play);
        float[] sum = new float[15];
        for (int i = 0; i < 15; i++) {
            sum[i] = (1000f + i * 0.37f) + (2000f + i * 0.37f);
        }
        // rank 0's band is vocabulary 0..3, rank 1's 4..6 (its fourth column is padding)
        float[] logits = {0, 1, 2, 3, 100, 101, 102, 4, 5, 6, 7, 104, 105, 106};
        for (int r = 0; r < 2; r++) {
            assertArrayEquals(sum, staged.get(r).reduced(), "staged sum, rank " + r);
            assertArrayEquals(sum, inPlace.get(r).reduced(), "in-place sum, rank " + r);
            assertArrayEquals(logits, staged.get(r).logits(), "staged gather, rank " + r);
            assertArrayEquals(logits, inPlace.get(r).logits(), "in-place gather, rank " + r);
            assertEquals(6, staged.get(r).hostCopies(), "staged: a copy out and in per collective");
            assertEquals(0, inPlace.get(r).hostCopies(), "in place: no host copy");
            assertEquals(3, inPlace.get(r).time().calls());
            assertTrue(inPlace.get(r).time().nanos() > 0);
        }
    }

    @Test
    void aGroupOfOneCountsNothingAndADeviceCommunicatorNeedsAddressableMemory() throws Exception {
        Outcome one = play(new SingleRank());
        assertEquals(2, one.time().calls(), "one rank: the all-reduce returns at once; the gathers still lay out");
        List<String> refused = twoRanks(OnDevice::new, c -> assertThrows(IllegalArgumentException.class,
                () -> new ActivationCollectives(c, new StagedOnly())).getMessage());
        assertTrue(refused.getFirst().contains("have no address to give it"), refused.getFirst());
    }

    /** A memory without addresses. */
    static final class StagedOnly implements TensorMemory {
        private final HeapMemory m = new HeapMemory();
        public Activation allocate(int rows, int cols) { return m.allocate(rows, cols); }
        public Indices allocateIndices(int length) { return m.allocateIndices(length); }
        public void copyIn(float[] src, int srcOff, Activation dst) { m.copyIn(src, srcOff, dst); }
        public void copyIn(int[] src, int srcOff, Indices dst) { m.copyIn(src, srcOff, dst); }
        public void copyOut(Activation src, float[] dst, int dstOff) { m.copyOut(src, dst, dstOff); }
        public void copyOut(Indices src, int[] dst, int dstOff) { m.copyOut(src, dst, dstOff); }
        public void copy(Activation src, Activation dst) { m.copy(src, dst); }
        public void zero(Activation x) { m.zero(x); }
    }
}
