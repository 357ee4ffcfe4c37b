package io.peregrine.kernels.cuda;

import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;

/**
 * Turns a kernel's arguments into the {@code void**} that {@code cuLaunchKernel} takes. Java types map one to one
 * onto the CUDA parameter types — {@link DeviceBuffer}/{@code CUdeviceptr} to a pointer, {@code Integer} to
 * {@code int}, {@code Long} to {@code long long}, {@code Float} to {@code float} — and anything else is refused,
 * because a wrongly sized argument silently shifts every argument after it.
 */
public final class KernelArgs {
    private KernelArgs() {}

    /** A null device pointer, for the kernels' optional (nullable) pointer arguments. */
    public static final CUdeviceptr NULL = new CUdeviceptr();

    public static Pointer encode(Object... args) {
        Pointer[] ps = new Pointer[args.length];
        for (int i = 0; i < args.length; i++) {
            ps[i] = switch (args[i]) {
                case DeviceBuffer b -> Pointer.to(b.ptr());
                case CUdeviceptr p -> Pointer.to(p);
                case Integer v -> Pointer.to(new int[] {v});
                case Long v -> Pointer.to(new long[] {v});
                case Float v -> Pointer.to(new float[] {v});
                case null -> throw new IllegalArgumentException("kernel argument " + i + " is null; pass KernelArgs.NULL for a null pointer");
                default -> throw new IllegalArgumentException("kernel argument " + i + " has unsupported type "
                        + args[i].getClass().getSimpleName() + " (use DeviceBuffer, Integer, Long or Float)");
            };
        }
        return Pointer.to(ps);
    }

    /** The CUDA type each argument encodes as, for error messages and tests. */
    public static String signature(Object... args) {
        StringBuilder sb = new StringBuilder("(");
        for (int i = 0; i < args.length; i++) {
            sb.append(i == 0 ? "" : ", ").append(switch (args[i]) {
                case DeviceBuffer b -> "void*";
                case CUdeviceptr p -> "void*";
                case Integer v -> "int";
                case Long v -> "long long";
                case Float v -> "float";
                case null, default -> "?";
            });
        }
        return sb.append(')').toString();
    }
}
