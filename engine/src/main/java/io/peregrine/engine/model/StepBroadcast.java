package io.peregrine.engine.model;

import io.peregrine.engine.dist.Communicator;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * What rank 0 tells the workers of a sharded model, over the group's broadcast: a cache to allocate, a step's
 * sequence slices to run, or stop. A message is a header of four ints (kind, a count, the lengths of the int and
 * float payloads), then the payloads. Ints travel as their bits (a broadcast copies bytes). Per slice the int payload
 * holds its token count, start position, block-table length, all-logits flag and media flag, then its tokens, its
 * block table and, when it carries media rows, one flag per token; the float payload holds the media rows in order.
 */
final class StepBroadcast {
    static final int STEP = 1;
    static final int CACHE = 2;
    static final int STOP = 3;

    /** A message as a worker receives it: a step's slices, a cache geometry, or stop. */
    sealed interface Message {}

    record Step(List<SequenceSlice> batch) implements Message {}

    record Cache(int blocks, int blockSize) implements Message {}

    record Stop() implements Message {}

    private static final int PER_SLICE = 5;

    private final Communicator comm;
    private final int hidden;
    private final int[] header = new int[4];
    private final MemorySegment headerSegment = MemorySegment.ofArray(header);
    private int[] ints = new int[256];
    private MemorySegment intsSegment = MemorySegment.ofArray(ints);
    private float[] floats = new float[0];
    private MemorySegment floatsSegment = MemorySegment.ofArray(floats);

    StepBroadcast(Communicator comm, int hidden) {
        this.comm = comm;
        this.hidden = hidden;
    }

    /** Rank 0: the workers run {@code batch} next. */
    void sendStep(List<SequenceSlice> batch) {
        int n = 0;
        int f = 0;
        for (SequenceSlice s : batch) {
            n += PER_SLICE + s.tokens().length + s.blockTable().length + (s.inputEmbeddings() != null ? s.tokens().length : 0);
            if (s.inputEmbeddings() != null) {
                for (float[] row : s.inputEmbeddings()) {
                    f += row == null ? 0 : hidden;
                }
            }
        }
        grow(n, f);
        int i = 0;
        int fi = 0;
        for (SequenceSlice s : batch) {
            int[] tokens = s.tokens();
            ints[i++] = tokens.length;
            ints[i++] = s.startPos();
            ints[i++] = s.blockTable().length;
            ints[i++] = (s.allLogits() ? 1 : 0) | (s.prompt() ? 2 : 0);
            ints[i++] = s.inputEmbeddings() != null ? 1 : 0;
            System.arraycopy(tokens, 0, ints, i, tokens.length);
            i += tokens.length;
            System.arraycopy(s.blockTable(), 0, ints, i, s.blockTable().length);
            i += s.blockTable().length;
            if (s.inputEmbeddings() != null) {
                for (float[] row : s.inputEmbeddings()) {
                    ints[i++] = row == null ? 0 : 1;
                    if (row != null) {
                        System.arraycopy(row, 0, floats, fi, hidden);
                        fi += hidden;
                    }
                }
            }
        }
        send(STEP, batch.size(), n, f);
    }

    /** Rank 0: the workers allocate a latent cache of this geometry (the replicated cache every rank keeps). */
    void sendCache(int blocks, int blockSize) {
        header[0] = CACHE;
        header[1] = blocks;
        header[2] = blockSize;
        header[3] = 0;
        comm.broadcast(headerSegment, header.length, 0);
    }

    /** Rank 0: the workers return. */
    void sendStop() {
        header[0] = STOP;
        header[1] = header[2] = header[3] = 0;
        comm.broadcast(headerSegment, header.length, 0);
    }

    private void send(int kind, int count, int n, int f) {
        header[0] = kind;
        header[1] = count;
        header[2] = n;
        header[3] = f;
        comm.broadcast(headerSegment, header.length, 0);
        payload(n, f);
    }

    private void payload(int n, int f) {
        if (n > 0) {
            comm.broadcast(intsSegment, n, 0);
        }
        if (f > 0) {
            comm.broadcast(floatsSegment, f, 0);
        }
    }

    private void grow(int n, int f) {
        if (ints.length < n) {
            ints = new int[Math.max(n, 2 * ints.length)];
            intsSegment = MemorySegment.ofArray(ints);
        }
        if (floats.length < f) {
            floats = new float[Math.max(f, 2 * floats.length)];
            floatsSegment = MemorySegment.ofArray(floats);
        }
    }

    /** A worker: the next message from rank 0. */
    Message receive() {
        comm.broadcast(headerSegment, header.length, 0);
        return switch (header[0]) {
            case STOP -> new Stop();
            case CACHE -> new Cache(header[1], header[2]);
            case STEP -> new Step(readStep(header[1], header[2], header[3]));
            default -> throw new IllegalStateException("unknown message kind " + header[0] + " from rank 0");
        };
    }

    private List<SequenceSlice> readStep(int slices, int n, int f) {
        grow(n, f);
        payload(n, f);
        List<SequenceSlice> batch = new ArrayList<>(slices);
        int i = 0;
        int fi = 0;
        for (int s = 0; s < slices; s++) {
            int count = ints[i++];
            int start = ints[i++];
            int blocks = ints[i++];
            int flags = ints[i++];
            boolean all = (flags & 1) != 0;
            boolean prompt = (flags & 2) != 0;
            boolean media = ints[i++] != 0;
            int[] tokens = java.util.Arrays.copyOfRange(ints, i, i + count);
            i += count;
            int[] table = java.util.Arrays.copyOfRange(ints, i, i + blocks);
            i += blocks;
            float[][] embeddings = null;
            if (media) {
                embeddings = new float[count][];
                for (int t = 0; t < count; t++) {
                    if (ints[i++] != 0) {
                        embeddings[t] = java.util.Arrays.copyOfRange(floats, fi, fi + hidden);
                        fi += hidden;
                    }
                }
            }
            batch.add(new SequenceSlice(tokens, start, table, all, embeddings, prompt));
        }
        return batch;
    }
}
