package io.peregrine.kernels.cuda;

import io.peregrine.engine.backend.Indices;
import java.util.Objects;
import jcuda.driver.CUdeviceptr;

/**
 * {@link Indices} in device memory, with the host copy they were uploaded from ({@link #host}, shared by every view
 * of one allocation): an eager launch that must size itself from them (the absorbed attention's context lengths)
 * reads the host copy instead of waiting for the device.
 */
public record DeviceIndices(DeviceBuffer base, int length, int[] host, int hostOffset) implements Indices {

    @Override
    public DeviceIndices slice(int first, int count) {
        Objects.checkFromIndexSize(first, count, length);
        CUdeviceptr p = base.ptr().withByteOffset(4L * first);
        return new DeviceIndices(new DeviceBuffer(p, Math.max(0, base.bytes() - 4L * first), base.owner()), count, host,
                hostOffset + first);
    }

    int get(int i) {
        return host[hostOffset + Objects.checkIndex(i, length)];
    }
}
