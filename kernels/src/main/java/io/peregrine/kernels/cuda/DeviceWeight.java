package io.peregrine.kernels.cuda;

import io.peregrine.engine.backend.LinearWeight;
import io.peregrine.engine.checkpoint.Int4Group32;
import io.peregrine.kernels.layout.Int4ExpertStack;

/**
 * A linear weight resident in device memory, uploaded once by {@link CudaBackend}. Row bands are views at a byte
 * offset ({@link DeviceWeightLayout}), so a product over rows {@code row0 ..} needs no copy.
 */
public sealed interface DeviceWeight extends LinearWeight {

    /** BF16 {@code [rows, cols]} exactly as stored (row-major raw bits): what {@code pg_bf16_gemv} streams. */
    record Bf16(String name, int rows, int cols, DeviceBuffer data) implements DeviceWeight {
        @Override
        public long weightBytes() {
            return 2L * rows * cols;
        }

        /** The weight from row {@code row0} on. */
        DeviceBuffer fromRow(int row0) {
            return row0 == 0 ? data : data.at(DeviceWeightLayout.bf16RowOffset(row0, cols));
        }
    }

    /**
     * INT4 group-32 as a one-expert {@link Int4ExpertStack}: packed words then bf16 scales in the checkpoint's own
     * row order, which is the layout the grouped INT4 kernels read (one 16-byte load = one group of 32).
     */
    record Int4(String name, int rows, int cols, Int4ExpertStack stack, DeviceBuffer words, DeviceBuffer scales)
            implements DeviceWeight {
        @Override
        public long weightBytes() {
            return (long) rows * (cols / 2 + 2L * (cols / Int4Group32.GROUP));
        }

        DeviceBuffer wordsFromRow(int row0) {
            return row0 == 0 ? words : words.at(DeviceWeightLayout.int4WordOffset(row0, cols));
        }

        DeviceBuffer scalesFromRow(int row0) {
            return row0 == 0 ? scales : scales.at(DeviceWeightLayout.int4ScaleOffset(row0, cols));
        }
    }
}
