package io.peregrine.kernels.cuda;

import static jcuda.driver.JCudaDriver.cuMemAllocHost;
import static jcuda.driver.JCudaDriver.cuMemFreeHost;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoHAsync;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;
import static jcuda.driver.JCudaDriver.cuMemsetD32Async;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jcuda.Pointer;

/**
 * A pinned host buffer and a device buffer of the same capacity, used as mirror images: the host side is filled
 * at {@link StagingLayout} offsets, copied over asynchronously on the context's one stream, and read back after the
 * stream is synchronised. Pinned memory is what lets the copies run at full PCIe speed and asynchronously; it grows
 * by {@link StagingLayout#grow} and is never shrunk. Not thread-safe: its owner serialises calls.
 */
final class PinnedStaging implements AutoCloseable {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final CudaContext ctx;
    private Pointer host;
    private MemorySegment hostView;
    private DeviceBuffer device;
    private long capacity;

    PinnedStaging(CudaContext ctx) {
        this.ctx = ctx;
    }

    long capacity() {
        return capacity;
    }

    /** Makes room for {@code bytes}; reallocating waits for the stream, since copies may still read the old buffers. */
    void ensure(long bytes) {
        long want = StagingLayout.grow(capacity, bytes);
        if (want == capacity) {
            return;
        }
        ctx.sync();
        release();
        Pointer p = new Pointer();
        cuMemAllocHost(p, want);
        host = p;
        // JCuda attaches a direct ByteBuffer over page-locked memory it allocated; that is our view of it
        java.nio.ByteBuffer view = p.getByteBuffer(0, want);
        if (view == null) {
            cuMemFreeHost(p);
            host = null;
            throw new IllegalStateException("cuMemAllocHost returned no host-addressable buffer for " + want + " bytes");
        }
        hostView = MemorySegment.ofBuffer(view.order(ByteOrder.LITTLE_ENDIAN));
        device = ctx.alloc(want);
        capacity = want;
    }

    MemorySegment host() {
        return hostView;
    }

    /** The host side at {@code offset} as a JCuda pointer, for copies outside the layout (weight uploads). */
    Pointer hostPointer(long offset) {
        return host.withByteOffset(offset);
    }

    /** The device side at {@code offset} (a view; never close it). */
    DeviceBuffer device(long offset) {
        return device.at(offset);
    }

    void putFloats(long at, float[] src, int from, int count) {
        MemorySegment.copy(src, from, hostView, F32, at, count);
    }

    void putInts(long at, int[] src, int from, int count) {
        MemorySegment.copy(src, from, hostView, I32, at, count);
    }

    void getFloats(long at, float[] dst, int to, int count) {
        MemorySegment.copy(hostView, F32, at, dst, to, count);
    }

    /** Queues the copy of host bytes {@code [from, to)} to the device. */
    void toDevice(long from, long to) {
        if (to > from) {
            cuMemcpyHtoDAsync(device.ptr().withByteOffset(from), host.withByteOffset(from), to - from, ctx.stream());
        }
    }

    /** Queues a fill of device bytes {@code [from, to)} with a 32-bit pattern (NaN poison before a kernel writes). */
    void poison(long from, long to, int pattern) {
        if (to > from) {
            cuMemsetD32Async(device.ptr().withByteOffset(from), pattern, (to - from) / 4, ctx.stream());
        }
    }

    /** Copies device bytes {@code [from, to)} back and waits for the stream: afterwards the host side may be read. */
    void toHostAndWait(long from, long to) {
        if (to > from) {
            cuMemcpyDtoHAsync(host.withByteOffset(from), device.ptr().withByteOffset(from), to - from, ctx.stream());
        }
        ctx.sync();
    }

    private void release() {
        if (host != null) {
            cuMemFreeHost(host);
            host = null;
            hostView = null;
        }
        if (device != null) {
            device.close();
            device = null;
        }
        capacity = 0;
    }

    @Override
    public void close() {
        release();
    }
}
