package io.peregrine.engine.dist;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.locks.LockSupport;

/**
 * Ranks as processes on one host, exchanging through one memory-mapped file: for CPU serving across NUMA sockets
 * (one process per socket) and to run the multi-process path on any machine.
 *
 * <p>Layout: a header (magic, group size, slot size, abort flag), one 64-byte line per rank (pid, step counter,
 * state), then two banks of one slot per rank. A collective is cut into steps of at most one slot per rank; in a
 * step each rank writes its part into its own slot of bank {@code step & 1}, publishes the step number (a release
 * store), waits until every rank has published it (acquire loads), then reads what it needs from the others' slots.
 * Two banks make one wait per step enough: a rank writes a bank again only two steps later, after every rank has
 * announced the step in between, which it does only once it has finished reading.
 *
 * <p>Sums add the ranks' slots in rank order on every rank, so all ranks get the same bits, run after run.
 *
 * <p>A waiting rank checks, every few milliseconds, that its peers' processes are alive, have not closed, have not
 * aborted the group, and that the wait is within the timeout; otherwise it aborts the group (so every other rank
 * fails too, at once) and throws {@link CommunicatorException}. A wrong argument on one rank would desynchronise the
 * group, so it aborts the group as well.
 *
 * <p>Rendezvous: rank 0 creates the file (it must not exist: give every group a fresh path) and deletes it once all
 * ranks have joined, so a crash leaves nothing behind; the other ranks wait for it to appear.
 */
public final class ShmCommunicator implements Communicator {
    private static final long MAGIC = 0x314D_4853_4745_5250L; // "PREGSHM1" little-endian
    private static final long H_MAGIC = 0;
    private static final long H_SIZE = 8;
    private static final long H_SLOT = 16;
    private static final long H_ABORT = 24;
    private static final long RANK_LINES = 64;
    private static final long LINE = 64;
    private static final long L_PID = 0;
    private static final long L_STEP = 8;
    private static final long L_STATE = 16;
    private static final long JOINED = 1;
    private static final long CLOSED = 2;
    private static final long F = Float.BYTES;
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();
    private static final long CHECK_NANOS = 5_000_000;
    private static final int SPINS = 1_000;
    private static final int YIELDS = 1_000;
    private static final long PARK_NANOS = 20_000;

    private final Arena arena;
    private final MemorySegment map;
    private final int rank;
    private final int size;
    private final long slotBytes;
    private final long slotFloats;
    private final long dataOffset;
    private final long timeoutNanos;
    private final ProcessHandle[] peers;
    private long step;
    private String broken;
    private boolean closed;

    private ShmCommunicator(Arena arena, MemorySegment map, int rank, int size, long slotBytes, long dataOffset,
                            Duration timeout) {
        this.arena = arena;
        this.map = map;
        this.rank = rank;
        this.size = size;
        this.slotBytes = slotBytes;
        this.slotFloats = slotBytes / F;
        this.dataOffset = dataOffset;
        this.timeoutNanos = timeout.toNanos();
        this.peers = new ProcessHandle[size];
    }

    /**
     * Joins the group at {@code file}; returns once all {@code size} ranks have joined.
     *
     * @param slotBytes bytes each rank exchanges per step (a multiple of 64, at least 16 per rank); larger
     *                  collectives take several steps
     * @param timeout   the longest wait for a peer, at start-up and in every step
     */
    public static ShmCommunicator open(Path file, int rank, int size, long slotBytes, Duration timeout) {
        if (size < 1 || rank < 0 || rank >= size) {
            throw new IllegalArgumentException("rank " + rank + " outside a group of " + size);
        }
        if (slotBytes % LINE != 0 || slotBytes < 16L * size) {
            throw new IllegalArgumentException("slot of " + slotBytes + " bytes: must be a multiple of 64 and hold "
                    + "16 bytes per rank");
        }
        long dataOffset = (RANK_LINES + size * LINE + 4095) / 4096 * 4096;
        long total = dataOffset + 2L * size * slotBytes;
        if (rank == 0 && Files.exists(file)) {
            throw new CommunicatorException(file + " already exists (left by another group?): every group needs a "
                    + "fresh path");
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        Arena arena = Arena.ofShared();
        try {
            MemorySegment map = rank == 0 ? create(file, total, size, slotBytes, arena)
                    : attach(file, total, size, slotBytes, arena, deadline, timeout);
            ShmCommunicator c = new ShmCommunicator(arena, map, rank, size, slotBytes, dataOffset, timeout);
            c.join(file);
            return c;
        } catch (RuntimeException e) {
            arena.close();
            if (rank == 0) {
                try {
                    Files.deleteIfExists(file);
                } catch (IOException ignored) {
                    // the join failure is what the caller needs to see
                }
            }
            throw e;
        }
    }

    private static MemorySegment create(Path file, long total, int size, long slotBytes, Arena arena) {
        Path tmp = file.resolveSibling(file.getFileName() + ".creating-" + ProcessHandle.current().pid());
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[1]), total - 1);
            MemorySegment map = ch.map(FileChannel.MapMode.READ_WRITE, 0, total, arena);
            map.set(ValueLayout.JAVA_LONG, H_SIZE, size);
            map.set(ValueLayout.JAVA_LONG, H_SLOT, slotBytes);
            LONG.setRelease(map, H_MAGIC, MAGIC);
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
            return map;
        } catch (IOException e) {
            throw new CommunicatorException("cannot create the shared-memory file " + file + ": " + e.getMessage(), e);
        }
    }

    private static MemorySegment attach(Path file, long total, int size, long slotBytes, Arena arena, long deadline,
                                        Duration timeout) {
        while (true) {
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                if (ch.size() == total) {
                    MemorySegment map = ch.map(FileChannel.MapMode.READ_WRITE, 0, total, arena);
                    if ((long) LONG.getAcquire(map, H_MAGIC) != MAGIC
                            || map.get(ValueLayout.JAVA_LONG, H_SIZE) != size
                            || map.get(ValueLayout.JAVA_LONG, H_SLOT) != slotBytes) {
                        throw new CommunicatorException(file + " belongs to another group (not " + size + " ranks with "
                                + slotBytes + "-byte slots)");
                    }
                    return map;
                }
            } catch (java.nio.file.NoSuchFileException e) {
                // rank 0 has not created it yet
            } catch (IOException e) {
                throw new CommunicatorException("cannot open the shared-memory file " + file + ": " + e.getMessage(), e);
            }
            if (System.nanoTime() - deadline > 0) {
                throw new CommunicatorException("rank 0 did not create " + file + " within " + timeout);
            }
            LockSupport.parkNanos(2_000_000);
        }
    }

    private void join(Path file) {
        long line = line(rank);
        map.set(ValueLayout.JAVA_LONG, line + L_PID, ProcessHandle.current().pid());
        LONG.setRelease(map, line + L_STATE, JOINED);
        arriveAndAwait(++step, "join");
        if (rank == 0) {
            try {
                Files.deleteIfExists(file);
            } catch (IOException e) {
                throw new CommunicatorException("cannot remove " + file + " after the join: " + e.getMessage(), e);
            }
        }
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public void allReduceSum(MemorySegment buf, long count) {
        usable();
        check(buf, count, "buf");
        for (long off = 0; off < count; off += slotFloats) {
            long n = Math.min(slotFloats, count - off);
            long s = ++step;
            MemorySegment.copy(buf, off * F, map, slot(s, rank), n * F);
            arriveAndAwait(s, "all_reduce");
            MemorySegment.copy(map, slot(s, 0), buf, off * F, n * F);
            for (int r = 1; r < size; r++) {
                addInto(buf, off * F, map, slot(s, r), n);
            }
        }
    }

    @Override
    public void allGather(MemorySegment send, long count, MemorySegment recv) {
        usable();
        check(send, count, "send");
        check(recv, count * size, "recv");
        for (long off = 0; off < count; off += slotFloats) {
            long n = Math.min(slotFloats, count - off);
            long s = ++step;
            MemorySegment.copy(send, off * F, map, slot(s, rank), n * F);
            arriveAndAwait(s, "all_gather");
            for (int q = 0; q < size; q++) {
                MemorySegment.copy(map, slot(s, q), recv, (q * count + off) * F, n * F);
            }
        }
    }

    @Override
    public void reduceScatterSum(MemorySegment send, MemorySegment recv, long count) {
        usable();
        check(send, count * size, "send");
        check(recv, count, "recv");
        long per = slotFloats / size;
        for (long off = 0; off < count; off += per) {
            long n = Math.min(per, count - off);
            long s = ++step;
            long mine = slot(s, rank);
            for (int d = 0; d < size; d++) {
                MemorySegment.copy(send, ((long) d * count + off) * F, map, mine + d * per * F, n * F);
            }
            arriveAndAwait(s, "reduce_scatter");
            long part = rank * per * F;
            MemorySegment.copy(map, slot(s, 0) + part, recv, off * F, n * F);
            for (int r = 1; r < size; r++) {
                addInto(recv, off * F, map, slot(s, r) + part, n);
            }
        }
    }

    @Override
    public void allToAll(MemorySegment send, long[] sendCounts, MemorySegment recv, long[] recvCounts) {
        usable();
        try {
            Collectives.checkCounts(sendCounts, recvCounts, size);
        } catch (IllegalArgumentException e) {
            throw abortOn(e);
        }
        check(send, Collectives.sum(sendCounts), "send");
        check(recv, Collectives.sum(recvCounts), "recv");
        // Step one: every rank publishes its counts, so every rank can check the whole matrix and agree on the rounds.
        long s = ++step;
        long mine = slot(s, rank);
        for (int q = 0; q < size; q++) {
            map.set(ValueLayout.JAVA_LONG, mine + 8L * q, sendCounts[q]);
            map.set(ValueLayout.JAVA_LONG, mine + 8L * (size + q), recvCounts[q]);
        }
        arriveAndAwait(s, "all_to_all");
        long longest = 0;
        for (int p = 0; p < size; p++) {
            for (int q = 0; q < size; q++) {
                long sent = map.get(ValueLayout.JAVA_LONG, slot(s, p) + 8L * q);
                long expected = map.get(ValueLayout.JAVA_LONG, slot(s, q) + 8L * (size + p));
                if (sent != expected) {
                    throw abortOn(new IllegalArgumentException("all-to-all counts disagree: rank " + p + " sends "
                            + sent + " elements to rank " + q + ", which expects " + expected));
                }
                longest = Math.max(longest, sent);
            }
        }
        long per = slotFloats / size;
        for (long done = 0; done < longest; done += per) {
            s = ++step;
            mine = slot(s, rank);
            long from = 0;
            for (int q = 0; q < size; q++) {
                long n = Math.clamp(sendCounts[q] - done, 0, per);
                if (n > 0) {
                    MemorySegment.copy(send, (from + done) * F, map, mine + q * per * F, n * F);
                }
                from += sendCounts[q];
            }
            arriveAndAwait(s, "all_to_all");
            long to = 0;
            for (int q = 0; q < size; q++) {
                long n = Math.clamp(recvCounts[q] - done, 0, per);
                if (n > 0) {
                    MemorySegment.copy(map, slot(s, q) + rank * per * F, recv, (to + done) * F, n * F);
                }
                to += recvCounts[q];
            }
        }
    }

    @Override
    public void broadcast(MemorySegment buf, long count, int root) {
        usable();
        if (root < 0 || root >= size) {
            throw abortOn(new IllegalArgumentException("root " + root + " outside a group of " + size));
        }
        check(buf, count, "buf");
        for (long off = 0; off < count; off += slotFloats) {
            long n = Math.min(slotFloats, count - off);
            long s = ++step;
            if (rank == root) {
                MemorySegment.copy(buf, off * F, map, slot(s, root), n * F);
            }
            arriveAndAwait(s, "broadcast");
            if (rank != root) {
                MemorySegment.copy(map, slot(s, root), buf, off * F, n * F);
            }
        }
    }

    @Override
    public void barrier() {
        usable();
        arriveAndAwait(++step, "barrier");
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            LONG.setRelease(map, line(rank) + L_STATE, CLOSED);
            arena.close();
        }
    }

    /** {@code dst[i] += src[i]} for {@code n} floats: the next rank's term of a rank-ordered sum. */
    private static void addInto(MemorySegment dst, long dstOff, MemorySegment src, long srcOff, long n) {
        for (long i = 0; i < n * F; i += F) {
            dst.set(FLOAT, dstOff + i, dst.get(FLOAT, dstOff + i) + src.get(FLOAT, srcOff + i));
        }
    }

    private long slot(long s, int r) {
        return dataOffset + ((s & 1) * size + r) * slotBytes;
    }

    private static long line(int r) {
        return RANK_LINES + r * LINE;
    }

    private void usable() {
        if (closed) {
            throw new IllegalStateException("rank " + rank + " has closed its communicator");
        }
        if (broken != null) {
            throw new CommunicatorException("the group failed earlier: " + broken);
        }
    }

    private void check(MemorySegment seg, long count, String what) {
        try {
            Collectives.checkCount(seg, count, what);
        } catch (IllegalArgumentException e) {
            throw abortOn(e);
        }
    }

    private IllegalArgumentException abortOn(IllegalArgumentException e) {
        abort("rank " + rank + ": " + e.getMessage());
        return e;
    }

    private void arriveAndAwait(long s, String op) {
        long aborted = (long) LONG.getAcquire(map, H_ABORT);
        if (aborted != 0) {
            throw fail("rank " + (aborted - 1) + " aborted the group before rank " + rank + " reached " + op
                    + " (step " + s + ")");
        }
        LONG.setRelease(map, line(rank) + L_STEP, s);
        long start = System.nanoTime();
        long nextCheck = start + CHECK_NANOS;
        int idle = 0;
        for (int q = 0; q < size; q++) {
            long at = line(q) + L_STEP;
            while ((long) LONG.getAcquire(map, at) < s) {
                if (idle < SPINS) {
                    Thread.onSpinWait();
                } else if (idle < SPINS + YIELDS) {
                    Thread.yield();
                } else {
                    LockSupport.parkNanos(PARK_NANOS);
                }
                idle++;
                long now = System.nanoTime();
                if (now - nextCheck >= 0) {
                    checkPeer(q, s, op, now - start);
                    nextCheck = now + CHECK_NANOS;
                }
            }
        }
    }

    private void checkPeer(int q, long s, String op, long waited) {
        // Look at the peer first and at its step after: one that arrived and then closed or exited in between still
        // counts as arrived, since its step was published before it left.
        long aborted = (long) LONG.getAcquire(map, H_ABORT);
        long state = (long) LONG.getAcquire(map, line(q) + L_STATE);
        long pid = map.get(ValueLayout.JAVA_LONG, line(q) + L_PID);
        boolean dead = state == JOINED && pid != 0 && !alive(q, pid);
        if ((long) LONG.getAcquire(map, line(q) + L_STEP) >= s) {
            return;
        }
        if (aborted != 0) {
            throw fail("rank " + (aborted - 1) + " aborted the group" + where(op, s));
        }
        if (state == CLOSED) {
            throw fail("rank " + q + " left the group" + where(op, s));
        }
        if (dead) {
            throw fail("rank " + q + " (pid " + pid + ") died" + where(op, s));
        }
        if (waited > timeoutNanos) {
            throw fail("rank " + q + " did not answer within " + Duration.ofNanos(timeoutNanos) + where(op, s));
        }
    }

    private String where(String op, long s) {
        return " while rank " + rank + " waited in " + op + " (step " + s + ")";
    }

    private boolean alive(int q, long pid) {
        if (peers[q] == null) {
            Optional<ProcessHandle> h = ProcessHandle.of(pid);
            if (h.isEmpty()) {
                return false;
            }
            peers[q] = h.get();
        }
        return peers[q].isAlive();
    }

    private CommunicatorException fail(String why) {
        abort(why);
        return new CommunicatorException(why);
    }

    private void abort(String why) {
        if (broken == null) {
            broken = why;
        }
        LONG.compareAndSet(map, H_ABORT, 0L, (long) rank + 1);
    }
}
