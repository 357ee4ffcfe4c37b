package io.peregrine.kernels.cuda;

import java.util.Arrays;

/**
 * Where one backend call's activations sit in the staging pair (a pinned host buffer and its device twin, same
 * offsets): every input region first, then every output region, each starting on a {@value #ALIGN}-byte boundary
 * (16-byte vector loads need 16; 256 keeps every region on its own cache lines). So one host-to-device copy moves all
 * inputs, one device-to-host copy brings all outputs back, and the call synchronises once.
 *
 * @param inputs      byte offset of each input region
 * @param outputs     byte offset of each output region
 * @param inputEnd    end of the last input: the host-to-device copy is {@code [0, inputEnd)}
 * @param outputStart start of the first output: the device-to-host copy is {@code [outputStart, end)}
 * @param end         bytes the staging buffers must hold
 */
public record StagingLayout(long[] inputs, long[] outputs, long inputEnd, long outputStart, long end) {
    public static final int ALIGN = 256;
    /**
     * The largest staging buffer: its host side is read and written through a {@link java.nio.ByteBuffer}, whose
     * index is an int; 1 GiB also keeps a pinned (unswappable) allocation modest.
     */
    public static final long MAX_CAPACITY = 1L << 30;
    /** Staging grows in whole MiB, so a run of slightly larger calls does not reallocate each time. */
    static final long GRANULE = 1L << 20;

    public StagingLayout {
        inputs = inputs.clone();
        outputs = outputs.clone();
    }

    /** Regions of the given byte sizes (each at least 4 bytes is reserved, so an empty region still has an address). */
    public static StagingLayout of(long[] inputBytes, long[] outputBytes) {
        long at = 0;
        long[] in = new long[inputBytes.length];
        for (int i = 0; i < in.length; i++) {
            in[i] = at;
            at = align(at + reserve(inputBytes[i], "input " + i));
        }
        long inputEnd = inputBytes.length == 0 ? 0 : in[in.length - 1] + reserve(inputBytes[in.length - 1], "input");
        long outputStart = at;
        long[] out = new long[outputBytes.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = at;
            at = align(at + reserve(outputBytes[i], "output " + i));
        }
        long end = outputBytes.length == 0 ? outputStart : out[out.length - 1] + reserve(outputBytes[out.length - 1], "output");
        return new StagingLayout(in, out, inputEnd, outputStart, end);
    }

    public long input(int i) {
        return inputs[i];
    }

    public long output(int i) {
        return outputs[i];
    }

    @Override
    public long[] inputs() {
        return inputs.clone();
    }

    @Override
    public long[] outputs() {
        return outputs.clone();
    }

    static long align(long bytes) {
        return (bytes + ALIGN - 1) / ALIGN * ALIGN;
    }

    private static long reserve(long bytes, String what) {
        if (bytes < 0) {
            throw new IllegalArgumentException("staging " + what + ": negative size " + bytes);
        }
        return Math.max(4, bytes);
    }

    /**
     * The capacity to reallocate to when {@code needed} bytes do not fit {@code current}: at least double (so a
     * growing prompt reallocates a logarithmic number of times), whole MiB, never over {@link #MAX_CAPACITY}.
     *
     * @throws IllegalArgumentException when {@code needed} is over {@link #MAX_CAPACITY}
     */
    public static long grow(long current, long needed) {
        if (needed > MAX_CAPACITY) {
            throw new IllegalArgumentException("one call needs " + needed + " bytes of staging, over the "
                    + MAX_CAPACITY + "-byte limit of a pinned staging buffer");
        }
        if (needed <= current) {
            return current;
        }
        long want = Math.max(needed, 2 * current);
        want = (want + GRANULE - 1) / GRANULE * GRANULE;
        return Math.min(want, MAX_CAPACITY);
    }

    /**
     * How many activation rows of one product fit one staging buffer, when a row needs {@code bytesPerRow} of input
     * plus output: products over more rows than this run in chunks of this many (rows are independent).
     */
    public static int rowsPerChunk(long bytesPerRow) {
        if (bytesPerRow <= 0) {
            throw new IllegalArgumentException("bytes per row " + bytesPerRow);
        }
        long rows = (MAX_CAPACITY - 2L * ALIGN) / bytesPerRow;
        if (rows < 1) {
            throw new IllegalArgumentException("one row of " + bytesPerRow + " bytes does not fit a staging buffer of "
                    + MAX_CAPACITY);
        }
        return (int) Math.min(Integer.MAX_VALUE, rows);
    }

    @Override
    public String toString() {
        return "StagingLayout[inputs=" + Arrays.toString(inputs) + ", outputs=" + Arrays.toString(outputs)
                + ", inputEnd=" + inputEnd + ", outputStart=" + outputStart + ", end=" + end + "]";
    }
}
