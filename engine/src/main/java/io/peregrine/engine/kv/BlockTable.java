package io.peregrine.engine.kv;

import java.util.Arrays;

/**
 * The cache blocks of one sequence, in position order: block {@code i} holds positions
 * {@code [i*blockSize, (i+1)*blockSize)}. Owned by the engine thread; the {@link BlockManager} fills and empties it.
 */
public final class BlockTable {
    private int[] ids = new int[8];
    private int size;

    public int size() {
        return size;
    }

    public boolean isEmpty() {
        return size == 0;
    }

    public int get(int i) {
        if (i >= size) {
            throw new IndexOutOfBoundsException("block " + i + " of a table of " + size);
        }
        return ids[i];
    }

    /** A copy of the ids, as the model's {@code SequenceSlice} wants them. */
    public int[] toArray() {
        return Arrays.copyOf(ids, size);
    }

    void add(int blockId) {
        if (size == ids.length) {
            ids = Arrays.copyOf(ids, size * 2);
        }
        ids[size++] = blockId;
    }

    int removeLast() {
        return ids[--size];
    }

    void set(int i, int blockId) {
        ids[i] = blockId;
    }

    @Override
    public String toString() {
        return Arrays.toString(toArray());
    }
}
