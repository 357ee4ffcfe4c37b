package io.peregrine.engine.model;

import io.peregrine.engine.backend.Activation;
import io.peregrine.engine.backend.InPlaceCollectives;
import io.peregrine.engine.backend.TensorMemory;
import io.peregrine.engine.dist.Communicator;
import java.lang.foreign.MemorySegment;

/**
 * The sharded step's two collectives on backend activations: the all-reduce that sums the ranks' partial outputs
 * (embedding, {@code o_proj}, MLP/MoE) and the all-gather of the vocabulary bands of the logits. Two paths:
 * <ul>
 *   <li>a host communicator ({@code shm}, TCP): through host staging arrays (copy out, communicate, copy in), which
 *   works over any backend;</li>
 *   <li>a device communicator (NCCL) over a backend whose activations it can address ({@link InPlaceCollectives},
 *   CUDA): in place on the device buffers, queued on the backend's stream like its kernels, no host copy. The
 *   logits' bands are gathered into a device buffer and laid out by device copies.</li>
 * </ul>
 * A host group of one does nothing. The staging buffers grow to the largest step and are kept, so a step allocates
 * nothing once warm.
 */
final class ActivationCollectives {
    private final Communicator comm;
    private final TensorMemory memory;
    /** Non-null: the collectives run in place on the backend's memory. */
    private final InPlaceCollectives inPlace;
    private float[] stage = new float[0];
    private MemorySegment stageSegment = MemorySegment.ofArray(stage);
    private float[] gathered = new float[0];
    private MemorySegment gatheredSegment = MemorySegment.ofArray(gathered);
    private float[] whole = new float[0];
    private Activation gatheredOnDevice;
    private long nanos;
    private long calls;

    ActivationCollectives(Communicator comm, TensorMemory memory) {
        this.comm = comm;
        this.memory = memory;
        if (comm.onDevice()) {
            if (!(memory instanceof InPlaceCollectives p)) {
                throw new IllegalArgumentException("the communicator works on device memory, but the backend's "
                        + "activations (" + memory.getClass().getSimpleName() + ") have no address to give it");
            }
            this.inPlace = p;
        } else {
            this.inPlace = null;
        }
    }

    Communicator communicator() {
        return comm;
    }

    /** {@code a} becomes the sum over the ranks of their {@code a} (host communicators: in rank order, same bits). */
    void allReduceSum(Activation a) {
        if (inPlace == null && comm.size() == 1) {
            return; // a device group of one still runs, so one GPU exercises the device path
        }
        long t0 = System.nanoTime();
        int n = a.rows() * a.cols();
        if (inPlace != null) {
            comm.allReduceSum(inPlace.segment(a), n);
        } else {
            stage(n);
            memory.copyOut(a, stage, 0);
            comm.allReduceSum(stageSegment, n);
            memory.copyIn(stage, 0, a);
        }
        count(t0);
    }

    /**
     * {@code full[t][v]} becomes the logit of vocabulary entry {@code v} from the rank whose band holds it:
     * {@code local} is this rank's {@code [rows, vocabPerRank]} band (a short last band is padded), {@code full} is
     * {@code [rows, vocab]}.
     */
    void allGatherVocab(Activation local, Activation full) {
        long t0 = System.nanoTime();
        if (inPlace != null) {
            allGatherInPlace(local, full);
            count(t0);
            return;
        }
        int rows = local.rows();
        int per = local.cols();
        int vocab = full.cols();
        int n = rows * per;
        int ranks = comm.size();
        stage(n);
        if (gathered.length < n * ranks) {
            gathered = new float[n * ranks];
            gatheredSegment = MemorySegment.ofArray(gathered);
        }
        if (whole.length < rows * vocab) {
            whole = new float[rows * vocab];
        }
        memory.copyOut(local, stage, 0);
        comm.allGather(stageSegment, n, gatheredSegment);
        for (int r = 0; r < ranks; r++) {
            int start = Math.min(vocab, per * r);
            int length = Math.min(vocab, start + per) - start;
            for (int t = 0; t < rows; t++) {
                System.arraycopy(gathered, r * n + t * per, whole, t * vocab + start, length);
            }
        }
        memory.copyIn(whole, 0, full);
        count(t0);
    }

    /** Rank {@code r}'s band lands as rows {@code [r·rows, (r+1)·rows)} of the gather buffer, then in its columns. */
    private void allGatherInPlace(Activation local, Activation full) {
        int rows = local.rows();
        int per = local.cols();
        int vocab = full.cols();
        int ranks = comm.size();
        if (gatheredOnDevice == null || gatheredOnDevice.rows() < ranks * rows || gatheredOnDevice.cols() != per) {
            gatheredOnDevice = memory.allocate(ranks * Math.max(rows, gatheredOnDevice == null ? 0
                    : gatheredOnDevice.rows() / ranks), per);
        }
        Activation band = gatheredOnDevice.rows(0, ranks * rows);
        comm.allGather(inPlace.segment(local), (long) rows * per, inPlace.segment(band));
        for (int r = 0; r < ranks; r++) {
            int start = Math.min(vocab, per * r);
            int length = Math.min(vocab, start + per) - start;
            if (length > 0) {
                memory.copy(band.rows(r * rows, rows).cols(0, length), full.cols(start, length));
            }
        }
    }

    /** Since the model was built: time in the collectives (staging included; on a device, the time to queue them). */
    CollectiveTime time() {
        return new CollectiveTime(nanos, calls);
    }

    private void count(long t0) {
        nanos += System.nanoTime() - t0;
        calls++;
    }

    private void stage(int n) {
        if (stage.length < n) {
            stage = new float[n];
            stageSegment = MemorySegment.ofArray(stage);
        }
    }
}
