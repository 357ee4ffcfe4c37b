package io.peregrine.engine.model;

import io.peregrine.engine.backend.Activation;
import io.peregrine.engine.backend.TensorMemory;
import io.peregrine.engine.dist.Communicator;
import java.lang.foreign.MemorySegment;

/**
 * The sharded step's two collectives on backend activations: the all-reduce that sums the ranks' partial outputs
 * (embedding, {@code o_proj}, MLP/MoE) and the all-gather of the vocabulary bands of the logits. They go through host
 * staging arrays (copy out, communicate, copy in), which works over any backend and the host communicators
 * ({@code shm}); a device communicator on device buffers is the GPU path's next step. A group of one does nothing.
 * The staging arrays grow to the largest step and are kept, so a step allocates nothing.
 */
final class ActivationCollectives {
    private final Communicator comm;
    private final TensorMemory memory;
    private float[] stage = new float[0];
    private MemorySegment stageSegment = MemorySegment.ofArray(stage);
    private float[] gathered = new float[0];
    private MemorySegment gatheredSegment = MemorySegment.ofArray(gathered);
    private float[] whole = new float[0];

    ActivationCollectives(Communicator comm, TensorMemory memory) {
        this.comm = comm;
        this.memory = memory;
    }

    Communicator communicator() {
        return comm;
    }

    /** {@code a} becomes the sum over the ranks of their {@code a}, in rank order (every rank gets the same bits). */
    void allReduceSum(Activation a) {
        if (comm.size() == 1) {
            return;
        }
        int n = a.rows() * a.cols();
        stage(n);
        memory.copyOut(a, stage, 0);
        comm.allReduceSum(stageSegment, n);
        memory.copyIn(stage, 0, a);
    }

    /**
     * {@code full[t][v]} becomes the logit of vocabulary entry {@code v} from the rank whose band holds it:
     * {@code local} is this rank's {@code [rows, vocabPerRank]} band (a short last band is padded), {@code full} is
     * {@code [rows, vocab]}.
     */
    void allGatherVocab(Activation local, Activation full) {
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
    }

    private void stage(int n) {
        if (stage.length < n) {
            stage = new float[n];
            stageSegment = MemorySegment.ofArray(stage);
        }
    }
}
