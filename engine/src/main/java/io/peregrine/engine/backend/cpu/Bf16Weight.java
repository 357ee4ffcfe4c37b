package io.peregrine.engine.backend.cpu;

import io.peregrine.engine.backend.LinearWeight;
import java.lang.foreign.MemorySegment;

/** A BF16 {@code [rows, cols]} weight read in place from the mapped checkpoint (no copy). */
record Bf16Weight(String name, int rows, int cols, MemorySegment data) implements LinearWeight {
    Bf16Weight {
        if (data.byteSize() != (long) rows * cols * 2) {
            throw new IllegalArgumentException(name + ": " + data.byteSize() + " bytes for BF16[" + rows + ", " + cols + "]");
        }
    }

    @Override
    public long weightBytes() {
        return data.byteSize();
    }
}
