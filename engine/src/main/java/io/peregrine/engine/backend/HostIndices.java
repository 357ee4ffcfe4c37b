package io.peregrine.engine.backend;

import java.util.Objects;

/** {@link Indices} on the Java heap: entry {@code i} is {@code data[offset + i]}. */
public record HostIndices(int[] data, int offset, int length) implements Indices {

    public HostIndices {
        Objects.checkFromIndexSize(offset, length, data.length);
    }

    @Override
    public HostIndices slice(int first, int count) {
        Objects.checkFromIndexSize(first, count, length);
        return new HostIndices(data, offset + first, count);
    }

    public int get(int i) {
        return data[offset + i];
    }
}
