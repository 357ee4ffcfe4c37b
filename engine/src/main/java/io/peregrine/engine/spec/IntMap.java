package io.peregrine.engine.spec;

import java.util.Arrays;

/**
 * An int-keyed open-addressing hash map (linear probing, backward-shift deletion) for the suffix trees' children
 * and endpoints: a token or sequence id to a node or an index, without boxing the key on every lookup. Hand-written
 * because no collections library is on the engine's class path and this is all the trees need.
 */
final class IntMap<V> {
    private static final int FREE = Integer.MIN_VALUE; // keys are tokens and sequence ids, never negative

    private int[] keys;
    private Object[] values;
    private int size;

    private static final int[] NO_KEYS = new int[0];
    private static final Object[] NO_VALUES = new Object[0];

    /** Empty and allocation-free until the first put: most tree nodes never get children or endpoints. */
    IntMap() {
        keys = NO_KEYS;
        values = NO_VALUES;
    }

    int size() {
        return size;
    }

    boolean isEmpty() {
        return size == 0;
    }

    @SuppressWarnings("unchecked")
    V get(int key) {
        if (size == 0) {
            return null;
        }
        int mask = keys.length - 1;
        for (int i = slot(key, mask); ; i = (i + 1) & mask) {
            int k = keys[i];
            if (k == key) {
                return (V) values[i];
            }
            if (k == FREE) {
                return null;
            }
        }
    }

    boolean containsKey(int key) {
        return get(key) != null;
    }

    void put(int key, V value) {
        if (key < 0) {
            throw new IllegalArgumentException("negative key " + key);
        }
        java.util.Objects.requireNonNull(value);
        if (keys.length == 0) {
            keys = new int[2];
            values = new Object[2];
            Arrays.fill(keys, FREE);
        }
        int mask = keys.length - 1;
        int i = slot(key, mask);
        while (keys[i] != FREE && keys[i] != key) {
            i = (i + 1) & mask;
        }
        if (keys[i] == FREE) {
            if (2 * (size + 1) > keys.length) {
                grow();
                put(key, value);
                return;
            }
            keys[i] = key;
            size++;
        }
        values[i] = value;
    }

    void remove(int key) {
        if (size == 0) {
            return;
        }
        int mask = keys.length - 1;
        int i = slot(key, mask);
        while (keys[i] != key) {
            if (keys[i] == FREE) {
                return;
            }
            i = (i + 1) & mask;
        }
        size--;
        // backward shift: pull later entries of the probe run into the gap so lookups never stop early
        int gap = i;
        for (int j = (gap + 1) & mask; keys[j] != FREE; j = (j + 1) & mask) {
            int home = slot(keys[j], mask);
            if (((j - home) & mask) >= ((j - gap) & mask)) {
                keys[gap] = keys[j];
                values[gap] = values[j];
                gap = j;
            }
        }
        keys[gap] = FREE;
        values[gap] = null;
    }

    /** Slot-array size, for iteration with {@link #keyAt} and {@link #valueAt} (free slots have a null value). */
    int capacity() {
        return keys.length;
    }

    int keyAt(int slot) {
        return keys[slot];
    }

    @SuppressWarnings("unchecked")
    V valueAt(int slot) {
        return (V) values[slot];
    }

    @SuppressWarnings("unchecked")
    private void grow() {
        int[] oldKeys = keys;
        Object[] oldValues = values;
        keys = new int[oldKeys.length * 2];
        values = new Object[oldKeys.length * 2];
        Arrays.fill(keys, FREE);
        size = 0;
        for (int i = 0; i < oldKeys.length; i++) {
            if (oldKeys[i] != FREE) {
                put(oldKeys[i], (V) oldValues[i]);
            }
        }
    }

    private static int slot(int key, int mask) {
        return (key * 0x9E3779B9 >>> 16 ^ key * 0x9E3779B9) & mask;
    }
}
