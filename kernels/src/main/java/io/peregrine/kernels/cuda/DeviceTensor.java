package io.peregrine.kernels.cuda;

import io.peregrine.engine.backend.Activation;
import java.util.Objects;
import jcuda.driver.CUdeviceptr;

/**
 * An {@link Activation} in device memory: row {@code r} starts {@code 4 · r · stride} bytes after {@link #base}.
 * Views share the allocation of the tensor they were taken from ({@link CudaBackend} owns and frees it).
 */
public record DeviceTensor(DeviceBuffer base, int rows, int cols, int stride) implements Activation {

    public DeviceTensor {
        if (rows < 0 || cols < 0 || stride < cols) {
            throw new IllegalArgumentException("device tensor [" + rows + ", " + cols + "] stride " + stride);
        }
    }

    @Override
    public DeviceTensor rows(int first, int count) {
        Objects.checkFromIndexSize(first, count, rows);
        return new DeviceTensor(offset(4L * first * stride), count, cols, stride);
    }

    @Override
    public DeviceTensor cols(int first, int count) {
        Objects.checkFromIndexSize(first, count, cols);
        return new DeviceTensor(offset(4L * first), rows, count, stride);
    }

    /** Rows packed back to back. */
    boolean dense() {
        return stride == cols || rows <= 1;
    }

    /** Element count. */
    long size() {
        return (long) rows * cols;
    }

    private DeviceBuffer offset(long bytes) {
        // DeviceBuffer.at refuses the end of the buffer; an empty view may sit there
        CUdeviceptr p = base.ptr().withByteOffset(bytes);
        return new DeviceBuffer(p, Math.max(0, base.bytes() - bytes), base.owner());
    }
}
