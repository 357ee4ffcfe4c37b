package io.peregrine.kernels.nccl;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * {@link NcclApi} as downcalls into the system's {@code libnccl.so.2} with {@code java.lang.foreign}, no JNI code of
 * our own. (bytedeco's {@code cuda} presets bind NCCL too, but would add a second CUDA binding with its own pointer
 * types beside JCuda for fourteen functions.) NCCL comes with the NVIDIA CUDA and PyTorch container images and as Debian's /
 * NVIDIA's {@code libnccl2} package; {@code PEREGRINE_NCCL_LIBRARY} names another file.
 */
public final class FfmNccl implements NcclApi {
    /** The soname NCCL 2 installs. */
    public static final String LIBRARY = "libnccl.so.2";
    static final String INSTALL_HINT = "install NCCL 2 (Debian/Ubuntu: apt install libnccl2 from NVIDIA's CUDA "
            + "repository; or run in an NVIDIA CUDA or PyTorch container image, which ship it), or set "
            + "PEREGRINE_NCCL_LIBRARY to the path of libnccl.so.2";
    private static final MemoryLayout UNIQUE_ID = MemoryLayout.structLayout(
            MemoryLayout.sequenceLayout(UNIQUE_ID_BYTES, ValueLayout.JAVA_BYTE)).withName("ncclUniqueId");

    private final MethodHandle getVersion;
    private final MethodHandle getUniqueId;
    private final MethodHandle commInitRank;
    private final MethodHandle commDestroy;
    private final MethodHandle commAbort;
    private final MethodHandle getErrorString;
    private final MethodHandle allReduce;
    private final MethodHandle allGather;
    private final MethodHandle reduceScatter;
    private final MethodHandle broadcast;
    private final MethodHandle send;
    private final MethodHandle recv;
    private final MethodHandle groupStart;
    private final MethodHandle groupEnd;

    private FfmNccl(SymbolLookup lib, String name) {
        Linker l = Linker.nativeLinker();
        Binder b = new Binder(l, lib, name);
        getVersion = b.bind("ncclGetVersion", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        getUniqueId = b.bind("ncclGetUniqueId", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        commInitRank = b.bind("ncclCommInitRank", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, UNIQUE_ID, JAVA_INT));
        commDestroy = b.bind("ncclCommDestroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        commAbort = b.bind("ncclCommAbort", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        getErrorString = b.bind("ncclGetErrorString", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        allReduce = b.bind("ncclAllReduce",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
        allGather = b.bind("ncclAllGather",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS));
        reduceScatter = b.bind("ncclReduceScatter",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
        broadcast = b.bind("ncclBroadcast",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
        send = b.bind("ncclSend", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
        recv = b.bind("ncclRecv", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
        groupStart = b.bind("ncclGroupStart", FunctionDescriptor.of(JAVA_INT));
        groupEnd = b.bind("ncclGroupEnd", FunctionDescriptor.of(JAVA_INT));
    }

    /** Binds {@code PEREGRINE_NCCL_LIBRARY}, else {@link #LIBRARY} from the library path. */
    public static FfmNccl load() {
        String override = System.getenv("PEREGRINE_NCCL_LIBRARY");
        return load(override == null || override.isBlank() ? LIBRARY : override);
    }

    /** Binds the NCCL library {@code name} (a soname or a path); one clear error when it is missing or too old. */
    public static FfmNccl load(String name) {
        SymbolLookup lib;
        try {
            lib = SymbolLookup.libraryLookup(name, Arena.global());
        } catch (IllegalArgumentException e) {
            throw new NcclUnavailableException("NCCL is not available: cannot load " + name + " (" + e.getMessage()
                    + "); " + INSTALL_HINT, e);
        }
        return new FfmNccl(lib, name);
    }

    private record Binder(Linker linker, SymbolLookup lib, String name) {
        MethodHandle bind(String symbol, FunctionDescriptor d) {
            MemorySegment at = lib.find(symbol).orElseThrow(() -> new NcclUnavailableException(name + " has no "
                    + symbol + ": it is not NCCL 2.7 or newer; " + INSTALL_HINT, null));
            return linker.downcallHandle(at, d);
        }
    }

    @Override
    public int getVersion(MemorySegment version) {
        try {
            return (int) getVersion.invokeExact(version);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    @Override
    public int getUniqueId(MemorySegment id) {
        try {
            return (int) getUniqueId.invokeExact(id);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    @Override
    public int commInitRank(MemorySegment commOut, int nranks, MemorySegment id, int rank) {
        try {
            return (int) commInitRank.invokeExact(commOut, nranks, id, rank);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    @Override
    public int commDestroy(MemorySegment comm) {
        try {
            return (int) commDestroy.invokeExact(comm);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    @Override
    public int commAbort(MemorySegment comm) {
        try {
            return (int) commAbort.invokeExact(comm);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    @Override
    public String errorString(int result) {
        try {
            MemorySegment s = (MemorySegment) getErrorString.invokeExact(result);
            return s.reinterpret(1024).getString(0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    @Override
    public int allReduce(MemorySegment send, MemorySegment recv, long count, int datatype, int op, MemorySegment comm,
                         MemorySegment stream) {
        try {
            return (int) allReduce.invokeExact(send, recv, count, datatype, op, comm, stream);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    @Override
    public int allGather(MemorySegment send, MemorySegment recv, long sendCount, int datatype, MemorySegment comm,
                         MemorySegment stream) {
        try {
            return (int) allGather.invokeExact(send, recv, sendCount, datatype, comm, stream);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    @Override
    public int reduceScatter(MemorySegment send, MemorySegment recv, long recvCount, int datatype, int op,
                             MemorySegment comm, MemorySegment stream) {
        try {
            return (int) reduceScatter.invokeExact(send, recv, recvCount, datatype, op, comm, stream);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    @Override
    public int broadcast(MemorySegment send, MemorySegment recv, long count, int datatype, int root, MemorySegment comm,
                         MemorySegment stream) {
        try {
            return (int) broadcast.invokeExact(send, recv, count, datatype, root, comm, stream);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    @Override
    public int send(MemorySegment buf, long count, int datatype, int peer, MemorySegment comm, MemorySegment stream) {
        try {
            return (int) send.invokeExact(buf, count, datatype, peer, comm, stream);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    @Override
    public int recv(MemorySegment buf, long count, int datatype, int peer, MemorySegment comm, MemorySegment stream) {
        try {
            return (int) recv.invokeExact(buf, count, datatype, peer, comm, stream);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    @Override
    public int groupStart() {
        try {
            return (int) groupStart.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    @Override
    public int groupEnd() {
        try {
            return (int) groupEnd.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** A downcall throws only what the JVM throws (no checked exceptions cross it). */
    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            throw r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(t);
    }
}
