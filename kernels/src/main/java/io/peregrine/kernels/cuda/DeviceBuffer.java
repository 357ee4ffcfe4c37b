package io.peregrine.kernels.cuda;

import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;

/**
 * Device memory from {@code cuMemAlloc} (never managed memory), with typed copies and poisoning. Every operation
 * goes through its {@link CudaContext}, which binds itself to the calling thread and orders the work on its stream.
 */
public record DeviceBuffer(CUdeviceptr ptr, long bytes, CudaContext owner) implements AutoCloseable {
    /** A quiet NaN: a float output still holding it after a kernel was never written. */
    public static final int POISON_F32 = 0x7fc00000;
    /** An int output still holding it after a kernel was never written. */
    public static final int POISON_I32 = 0xDEADBEEF;

    public DeviceBuffer upload(float[] a) {
        fits(4L * a.length);
        owner.copyToDevice(ptr, Pointer.to(a), 4L * a.length);
        return this;
    }

    public DeviceBuffer upload(int[] a) {
        fits(4L * a.length);
        owner.copyToDevice(ptr, Pointer.to(a), 4L * a.length);
        return this;
    }

    public DeviceBuffer upload(short[] a) {
        fits(2L * a.length);
        owner.copyToDevice(ptr, Pointer.to(a), 2L * a.length);
        return this;
    }

    /** The first {@code n} values of {@code a} (a staging array reused step after step). */
    public DeviceBuffer upload(double[] a, int n) {
        fits(8L * n);
        owner.copyToDevice(ptr, Pointer.to(a), 8L * n);
        return this;
    }

    /** The first {@code n} words of {@code a}. */
    public DeviceBuffer upload(long[] a, int n) {
        fits(8L * n);
        owner.copyToDevice(ptr, Pointer.to(a), 8L * n);
        return this;
    }

    /** The first {@code n} ints of {@code a}. */
    public DeviceBuffer upload(int[] a, int n) {
        fits(4L * n);
        owner.copyToDevice(ptr, Pointer.to(a), 4L * n);
        return this;
    }

    /** Copies the first {@code n} ints into {@code dst} (reused, so a step allocates nothing). */
    public void download(int[] dst, int n) {
        fits(4L * n);
        owner.copyToHost(Pointer.to(dst), ptr, 4L * n);
    }

    public float[] floats(int n) {
        fits(4L * n);
        float[] a = new float[n];
        owner.copyToHost(Pointer.to(a), ptr, 4L * n);
        return a;
    }

    public int[] ints(int n) {
        fits(4L * n);
        int[] a = new int[n];
        owner.copyToHost(Pointer.to(a), ptr, 4L * n);
        return a;
    }

    public short[] shorts(int n) {
        fits(2L * n);
        short[] a = new short[n];
        owner.copyToHost(Pointer.to(a), ptr, 2L * n);
        return a;
    }

    /** A view {@code bytes} into this buffer (not owned: never close it). */
    public DeviceBuffer at(long offsetBytes) {
        if (offsetBytes < 0 || offsetBytes >= bytes) {
            throw new IllegalArgumentException("offset " + offsetBytes + " outside a buffer of " + bytes);
        }
        return new DeviceBuffer(ptr.withByteOffset(offsetBytes), bytes - offsetBytes, owner);
    }

    /** Fills every 32-bit word with {@code pattern}, ordered on the stream like a launch. */
    public DeviceBuffer poison(int pattern) {
        owner.fill32(ptr, pattern, bytes / 4);
        return this;
    }

    private void fits(long n) {
        if (n > bytes) {
            throw new IllegalArgumentException(n + " bytes do not fit a device buffer of " + bytes);
        }
    }

    @Override
    public void close() {
        owner.free(ptr);
    }
}
