package io.peregrine.kernels.nccl;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * The one-rank NCCL smoke test for a GPU machine: binds {@code libnccl.so.2} through {@link FfmNccl}, opens a group of
 * one on device 0, and checks an all-reduce, an all-gather, a broadcast and a barrier on device buffers against the
 * host copy. Device memory comes from the CUDA driver through the same foreign-function API (JCuda hides raw device
 * addresses, and NCCL needs them). Exit status 0 on success, 1 on a wrong result, 2 when NCCL or CUDA is missing.
 *
 * <p>Run: {@code java --enable-native-access=ALL-UNNAMED -cp ... io.peregrine.kernels.nccl.NcclSmoke}.
 */
public final class NcclSmoke {
    private NcclSmoke() {}

    /** The few CUDA driver calls the smoke test needs, each returning {@code CUresult}. */
    private record Driver(MethodHandle init, MethodHandle deviceGet, MethodHandle primaryCtxRetain,
                          MethodHandle ctxSetCurrent, MethodHandle memAlloc, MethodHandle memcpyHtoD,
                          MethodHandle memcpyDtoH, MethodHandle ctxSynchronize) {
        static Driver load() {
            SymbolLookup lib = SymbolLookup.libraryLookup("libcuda.so.1", Arena.global());
            Linker l = Linker.nativeLinker();
            return new Driver(
                    l.downcallHandle(lib.findOrThrow("cuInit"), FunctionDescriptor.of(JAVA_INT, JAVA_INT)),
                    l.downcallHandle(lib.findOrThrow("cuDeviceGet"), FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT)),
                    l.downcallHandle(lib.findOrThrow("cuDevicePrimaryCtxRetain"),
                            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT)),
                    l.downcallHandle(lib.findOrThrow("cuCtxSetCurrent"), FunctionDescriptor.of(JAVA_INT, ADDRESS)),
                    l.downcallHandle(lib.findOrThrow("cuMemAlloc_v2"), FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG)),
                    l.downcallHandle(lib.findOrThrow("cuMemcpyHtoD_v2"),
                            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS, JAVA_LONG)),
                    l.downcallHandle(lib.findOrThrow("cuMemcpyDtoH_v2"),
                            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG)),
                    l.downcallHandle(lib.findOrThrow("cuCtxSynchronize"), FunctionDescriptor.of(JAVA_INT)));
        }
    }

    /** The legacy default stream, waited for through the driver bound here (not JCuda's). */
    private record DriverStream(Driver cu) implements DeviceStream {
        @Override
        public MemorySegment handle() {
            return MemorySegment.NULL;
        }

        @Override
        public void synchronize() {
            try {
                cuda((int) cu.ctxSynchronize().invokeExact(), "cuCtxSynchronize");
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }
    }

    public static void main(String[] args) throws Throwable {
        FfmNccl nccl;
        Driver cu;
        try {
            nccl = FfmNccl.load();
            cu = Driver.load();
        } catch (NcclUnavailableException | IllegalArgumentException | java.util.NoSuchElementException e) {
            System.out.println("nccl smoke: unavailable: " + e.getMessage());
            System.exit(2);
            return;
        }
        System.exit(run(nccl, cu));
    }

    private static int run(FfmNccl nccl, Driver cu) throws Throwable {
        int n = 4096;
        long bytes = 4L * n;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment version = a.allocate(JAVA_INT);
            check(nccl.getVersion(version), "ncclGetVersion");
            System.out.println("nccl smoke: NCCL " + version.get(JAVA_INT, 0));
            cuda((int) cu.init().invokeExact(0), "cuInit");
            MemorySegment dev = a.allocate(JAVA_INT);
            cuda((int) cu.deviceGet().invokeExact(dev, 0), "cuDeviceGet");
            MemorySegment ctx = a.allocate(ADDRESS);
            cuda((int) cu.primaryCtxRetain().invokeExact(ctx, dev.get(JAVA_INT, 0)), "cuDevicePrimaryCtxRetain");
            cuda((int) cu.ctxSetCurrent().invokeExact(ctx.get(ADDRESS, 0)), "cuCtxSetCurrent");
            long buf = alloc(cu, a, bytes);
            long gathered = alloc(cu, a, bytes);
            long scratch = alloc(cu, a, 4);
            MemorySegment host = a.allocate(bytes, 16);
            for (int i = 0; i < n; i++) {
                host.setAtIndex(ValueLayout.JAVA_FLOAT, i, i * 0.5f - 7);
            }
            cuda((int) cu.memcpyHtoD().invokeExact(buf, host, bytes), "cuMemcpyHtoD");
            DeviceStream stream = new DriverStream(cu);
            MemorySegment id = a.allocate(NcclApi.UNIQUE_ID_BYTES, 8);
            check(nccl.getUniqueId(id), "ncclGetUniqueId");
            try (NcclCommunicator c = NcclCommunicator.open(nccl, 0, 1, id, stream,
                    MemorySegment.ofAddress(scratch).reinterpret(4))) {
                MemorySegment d = MemorySegment.ofAddress(buf).reinterpret(bytes);
                c.allReduceSum(d, n);
                c.allGather(d, n, MemorySegment.ofAddress(gathered).reinterpret(bytes));
                c.broadcast(d, n, 0);
                c.barrier();
            }
            int failures = compare(cu, a, host, buf, n, "all_reduce/broadcast") + compare(cu, a, host, gathered, n, "all_gather");
            System.out.println(failures == 0 ? "nccl smoke: OK (init, all_reduce, all_gather, broadcast, barrier on one rank)"
                    : "nccl smoke: FAILED");
            return failures == 0 ? 0 : 1;
        }
    }

    private static int compare(Driver cu, Arena a, MemorySegment want, long dev, int n, String what) throws Throwable {
        MemorySegment got = a.allocate(4L * n, 16);
        cuda((int) cu.memcpyDtoH().invokeExact(got, dev, 4L * n), "cuMemcpyDtoH");
        for (int i = 0; i < n; i++) {
            if (Float.floatToRawIntBits(got.getAtIndex(ValueLayout.JAVA_FLOAT, i))
                    != Float.floatToRawIntBits(want.getAtIndex(ValueLayout.JAVA_FLOAT, i))) {
                System.out.println("nccl smoke: " + what + " element " + i + ": expected "
                        + want.getAtIndex(ValueLayout.JAVA_FLOAT, i) + ", got " + got.getAtIndex(ValueLayout.JAVA_FLOAT, i));
                return 1;
            }
        }
        return 0;
    }

    private static long alloc(Driver cu, Arena a, long bytes) throws Throwable {
        MemorySegment ptr = a.allocate(JAVA_LONG);
        cuda((int) cu.memAlloc().invokeExact(ptr, bytes), "cuMemAlloc");
        return ptr.get(JAVA_LONG, 0);
    }

    private static void check(int result, String call) {
        if (result != NcclApi.SUCCESS) {
            throw new IllegalStateException(call + " returned ncclResult_t " + result);
        }
    }

    private static void cuda(int result, String call) {
        if (result != 0) {
            throw new IllegalStateException(call + " returned CUresult " + result);
        }
    }
}
