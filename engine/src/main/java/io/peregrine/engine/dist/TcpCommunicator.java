package io.peregrine.engine.dist;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.function.Consumer;
import jdk.net.ExtendedSocketOptions;

/**
 * Ranks on several hosts (multi-node {@code serve --nnodes}), joined over TCP through one address: rank 0 listens on
 * {@code --master-addr:--master-port}, every other rank connects to it. A star: each collective sends every rank's
 * part to rank 0, which combines the parts (sums in rank order, {@code ((x0 + x1) + x2) + ...}, the same bits as
 * {@link ShmCommunicator}) and sends each rank its result. For the handful of ranks CPU serving spans (a socket or
 * two per node) rank 0's link is not the limit; for GPUs this group carries only the control plane (the step's
 * inputs, the NCCL unique id) and NCCL the activations.
 *
 * <p>Every message is a frame: an op code and a count (so a rank that calls another collective, or another count,
 * fails the group instead of reading garbage), then the floats as raw bytes (the ranks share a byte order: every
 * host Peregrine runs on is little-endian).
 *
 * <p>Failure is an exception, never a hang: a peer whose process exits closes its connections (the kernel does), a
 * host that vanishes is found by TCP keepalive within seconds, and a wait longer than the timeout gives up. The rank
 * that sees it aborts the group (rank 0 closes every connection, so every other rank fails at its next read) and
 * throws {@link CommunicatorException} naming the rank, its address and the collective. Besides its data connection
 * each rank holds a second, silent one to rank 0, which rank 0 watches from a thread of its own: a rank lost while
 * the group is idle (no collective running) is reported at once through {@link #onPeerLost}; a rank that leaves in
 * order says so on it first, so rank 0 reports it without aborting the collectives it still owes the others.
 */
public final class TcpCommunicator implements Communicator {
    private static final int MAGIC = 0x50524754; // "PRGT"
    private static final int DATA = 0;
    private static final int WATCH = 1;
    /** What a rank sends on its watch connection when it leaves in order (a closed socket alone means it vanished). */
    private static final int LEAVE = 0x4C;
    private static final int ERROR = -1;
    private static final int OK = 0;
    private static final int ALL_REDUCE = 1;
    private static final int ALL_GATHER = 2;
    private static final int REDUCE_SCATTER = 3;
    private static final int ALL_TO_ALL = 4;
    private static final int BROADCAST = 5;
    private static final int BARRIER = 6;
    private static final String[] NAMES = {"ok", "all_reduce", "all_gather", "reduce_scatter", "all_to_all",
            "broadcast", "barrier"};
    private static final long F = Float.BYTES;
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final int CHUNK = 1 << 16;
    private static final Duration RETRY = Duration.ofMillis(200);
    private static final Duration GREETING = Duration.ofSeconds(10);

    private final int rank;
    private final int size;
    /** Rank 0: one data connection per rank (index 0 unused); a worker: index 0 is its connection to rank 0. */
    private final Link[] links;
    private final Socket[] watches;
    private final byte[] chunk = new byte[CHUNK];
    private final MemorySegment chunkSegment = MemorySegment.ofArray(chunk);
    private float[] scratch = new float[0];
    private MemorySegment scratchSegment = MemorySegment.ofArray(scratch);
    private volatile String broken;
    private volatile boolean closed;
    private volatile Consumer<String> onPeerLost = why -> { };

    private TcpCommunicator(int rank, int size, Link[] links, Socket[] watches) {
        this.rank = rank;
        this.size = size;
        this.links = links;
        this.watches = watches;
    }

    /** A connection to one peer, with the peer's rank and address for messages. */
    private record Link(int rank, Socket socket, DataInputStream in, DataOutputStream out, String address) {
        static Link of(int rank, Socket s) throws IOException {
            return new Link(rank, s, new DataInputStream(new BufferedInputStream(s.getInputStream(), CHUNK)),
                    new DataOutputStream(new BufferedOutputStream(s.getOutputStream(), CHUNK)),
                    s.getInetAddress().getHostAddress() + ":" + s.getPort());
        }
    }

    /**
     * Joins the group at {@code master}: rank 0 listens on its port (every interface), the others connect to it.
     * Returns once all ranks have joined.
     *
     * @param join    how long to wait for the group to form (the other nodes may start later)
     * @param timeout the longest wait for a live peer in a collective
     */
    public static TcpCommunicator open(InetSocketAddress master, int rank, int size, Duration join, Duration timeout) {
        if (size < 1 || rank < 0 || rank >= size) {
            throw new IllegalArgumentException("rank " + rank + " outside a group of " + size);
        }
        if (rank == 0) {
            try (Listener l = listen(master.getPort())) {
                return l.accept(size, join, timeout);
            }
        }
        return connect(master, rank, size, join, timeout);
    }

    /** Rank 0's listening socket, bound before the other ranks are told where it is (port 0: any free port). */
    public static Listener listen(int port) {
        try {
            ServerSocket server = new ServerSocket();
            server.setReuseAddress(true);
            server.bind(new InetSocketAddress(port));
            return new Listener(server);
        } catch (IOException e) {
            throw new CommunicatorException("rank 0 cannot listen on port " + port + ": " + e.getMessage(), e);
        }
    }

    /** Rank 0's side of the rendezvous. */
    public static final class Listener implements AutoCloseable {
        private final ServerSocket server;

        private Listener(ServerSocket server) {
            this.server = server;
        }

        public int port() {
            return server.getLocalPort();
        }

        /** Waits for ranks 1 .. size − 1 (a data and a watch connection each), then tells them the group is whole. */
        public TcpCommunicator accept(int size, Duration join, Duration timeout) {
            Link[] links = new Link[size];
            Socket[] watches = new Socket[size];
            long deadline = System.nanoTime() + join.toNanos();
            int joined = 0;
            try {
                while (joined < 2 * (size - 1)) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        throw new SocketTimeoutException();
                    }
                    server.setSoTimeout((int) Math.max(1, Math.min(Integer.MAX_VALUE, left / 1_000_000)));
                    Socket s = server.accept();
                    int magic;
                    int kind;
                    int r;
                    int theirSize;
                    try {
                        configure(s, GREETING);
                        DataInputStream in = new DataInputStream(s.getInputStream());
                        magic = in.readInt();
                        kind = in.readInt();
                        r = in.readInt();
                        theirSize = in.readInt();
                        s.setSoTimeout(kind == WATCH ? 0 : millis(timeout));
                    } catch (IOException e) {
                        // not a rank (a port scan, a probe): the group keeps waiting for its own
                        closeQuietly(s);
                        continue;
                    }
                    String refusal = magic != MAGIC ? "not a Peregrine rank (bad greeting)"
                            : theirSize != size ? "rank " + r + " joined a group of " + theirSize + " ranks, but rank 0 "
                                    + "leads a group of " + size + " (check --tensor-parallel-size and --nnodes on every node)"
                            : r < 1 || r >= size ? "rank " + r + " is outside the group of " + size
                            : (kind == DATA ? links[r] : watches[r]) != null ? "rank " + r + " joined twice (two nodes "
                                    + "with the same --node-rank?)"
                            : null;
                    if (refusal != null) {
                        DataOutputStream out = new DataOutputStream(s.getOutputStream());
                        out.writeInt(ERROR);
                        out.writeUTF(refusal);
                        out.flush();
                        s.close();
                        if (magic == MAGIC) {
                            closeAll(links, watches);
                            throw new CommunicatorException(refusal);
                        }
                        continue;
                    }
                    if (kind == DATA) {
                        links[r] = Link.of(r, s);
                    } else {
                        watches[r] = s;
                    }
                    joined++;
                }
                for (int r = 1; r < size; r++) {
                    links[r].out.writeInt(OK);
                    links[r].out.flush();
                }
            } catch (SocketTimeoutException e) {
                closeAll(links, watches);
                StringBuilder missing = new StringBuilder();
                for (int r = 1; r < size; r++) {
                    if (links[r] == null || watches[r] == null) {
                        missing.append(missing.isEmpty() ? "" : ", ").append(r);
                    }
                }
                throw new CommunicatorException("rank(s) " + missing + " did not join rank 0 on port " + port()
                        + " within " + join);
            } catch (IOException e) {
                closeAll(links, watches);
                throw new CommunicatorException("rank 0 lost a rank while the group formed: " + e.getMessage(), e);
            }
            TcpCommunicator c = new TcpCommunicator(0, size, links, watches);
            c.watchPeers();
            return c;
        }

        @Override
        public void close() {
            try {
                server.close();
            } catch (IOException ignored) {
                // nothing listens any more either way
            }
        }
    }

    private static TcpCommunicator connect(InetSocketAddress master, int rank, int size, Duration join,
                                           Duration timeout) {
        long deadline = System.nanoTime() + join.toNanos();
        Socket data = null;
        Socket watch = null;
        try {
            data = dial(master, deadline, join, rank);
            configure(data, timeout);
            greet(data, DATA, rank, size);
            watch = dial(master, deadline, join, rank);
            configure(watch, Duration.ZERO);
            greet(watch, WATCH, rank, size);
            Link link = Link.of(0, data);
            // The answer comes once every rank has joined: wait for it as long as the join may take.
            data.setSoTimeout(millis(Duration.ofNanos(Math.max(1, deadline - System.nanoTime()))));
            int answer = link.in.readInt();
            if (answer != OK) {
                throw new CommunicatorException("rank 0 at " + master + " refused rank " + rank + ": "
                        + link.in.readUTF());
            }
            data.setSoTimeout(millis(timeout));
            return new TcpCommunicator(rank, size, new Link[] {link}, new Socket[] {watch});
        } catch (IOException e) {
            closeQuietly(data);
            closeQuietly(watch);
            throw new CommunicatorException("rank " + rank + " could not join rank 0 at " + master + ": "
                    + (e instanceof SocketTimeoutException ? "no answer within " + join : e.toString()), e);
        } catch (RuntimeException e) {
            closeQuietly(data);
            closeQuietly(watch);
            throw e;
        }
    }

    /** Connects, retrying while nobody listens yet (rank 0's node may start later), until the deadline. */
    private static Socket dial(InetSocketAddress master, long deadline, Duration join, int rank) throws IOException {
        while (true) {
            Socket s = new Socket();
            try {
                InetSocketAddress to = master.isUnresolved()
                        ? new InetSocketAddress(master.getHostString(), master.getPort()) : master;
                if (to.isUnresolved()) {
                    throw new IOException("cannot resolve " + master.getHostString());
                }
                s.connect(to, (int) Math.max(1, Math.min(5_000, (deadline - System.nanoTime()) / 1_000_000)));
                return s;
            } catch (IOException e) {
                s.close();
                if (System.nanoTime() + RETRY.toNanos() - deadline > 0) {
                    throw new CommunicatorException("rank " + rank + " could not reach rank 0 at " + master
                            + " within " + join + ": " + e.getMessage(), e);
                }
                try {
                    Thread.sleep(RETRY);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new CommunicatorException("interrupted while joining rank 0 at " + master, ie);
                }
            }
        }
    }

    private static void greet(Socket s, int kind, int rank, int size) throws IOException {
        DataOutputStream out = new DataOutputStream(s.getOutputStream());
        out.writeInt(MAGIC);
        out.writeInt(kind);
        out.writeInt(rank);
        out.writeInt(size);
        out.flush();
    }

    /** No Nagle (small frames go out at once); keepalive probes that find a vanished host within ~10 s. */
    private static void configure(Socket s, Duration timeout) throws IOException {
        s.setTcpNoDelay(true);
        s.setKeepAlive(true);
        if (s.supportedOptions().contains(ExtendedSocketOptions.TCP_KEEPIDLE)) {
            s.setOption(ExtendedSocketOptions.TCP_KEEPIDLE, 5);
            s.setOption(ExtendedSocketOptions.TCP_KEEPINTERVAL, 2);
            s.setOption(ExtendedSocketOptions.TCP_KEEPCOUNT, 3);
        }
        s.setSoTimeout(millis(timeout));
    }

    private static int millis(Duration d) {
        // zero, or longer than a socket timeout can say: wait without limit
        return d.isZero() || d.toMillis() > Integer.MAX_VALUE ? 0 : (int) Math.max(1, d.toMillis());
    }

    /**
     * Rank 0: told once, from a watcher thread, when a rank's process or host is gone (also while no collective
     * runs); the group is aborted first, so the next collective fails at once.
     */
    public void onPeerLost(Consumer<String> listener) {
        this.onPeerLost = listener;
        String already = broken;
        if (already != null && !closed) {
            listener.accept(already);
        }
    }

    private void watchPeers() {
        for (int r = 1; r < size; r++) {
            int peer = r;
            Socket s = watches[r];
            Thread.ofPlatform().daemon().name("peregrine-watch-rank-" + r).start(() -> {
                int b;
                String how;
                try {
                    b = s.getInputStream().read();
                    how = b == LEAVE ? "left the group" : b < 0 ? "closed its connection (its process exited)"
                            : "sent on its watch connection";
                } catch (IOException e) {
                    b = -1;
                    how = "was lost (" + e.getMessage() + ")";
                }
                if (!closed) {
                    String why = "rank " + peer + " (" + links[peer].address() + ") " + how;
                    // A rank that left in order may have done so right after its last collective while rank 0 still
                    // serves the others theirs: only a rank that vanished aborts the group's connections.
                    if (b != LEAVE) {
                        abort(why);
                    }
                    onPeerLost.accept(why);
                }
            });
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
        check(buf, count, "buf");
        if (size == 1) {
            return;
        }
        if (rank == 0) {
            for (int r = 1; r < size; r++) {
                expect(r, ALL_REDUCE, count);
                receive(r, buf, 0, count, true, ALL_REDUCE);
            }
            for (int r = 1; r < size; r++) {
                send(r, ALL_REDUCE, buf, 0, count);
            }
        } else {
            send(0, ALL_REDUCE, buf, 0, count);
            expect(0, ALL_REDUCE, count);
            receive(0, buf, 0, count, false, ALL_REDUCE);
        }
    }

    @Override
    public void allGather(MemorySegment send, long count, MemorySegment recv) {
        check(send, count, "send");
        check(recv, count * size, "recv");
        MemorySegment.copy(send, 0, recv, rank * count * F, count * F);
        if (size == 1) {
            return;
        }
        if (rank == 0) {
            for (int r = 1; r < size; r++) {
                expect(r, ALL_GATHER, count);
                receive(r, recv, r * count, count, false, ALL_GATHER);
            }
            for (int r = 1; r < size; r++) {
                send(r, ALL_GATHER, recv, 0, count * size);
            }
        } else {
            send(0, ALL_GATHER, send, 0, count);
            expect(0, ALL_GATHER, count * size);
            receive(0, recv, 0, count * size, false, ALL_GATHER);
        }
    }

    @Override
    public void reduceScatterSum(MemorySegment send, MemorySegment recv, long count) {
        check(send, count * size, "send");
        check(recv, count, "recv");
        if (size == 1) {
            MemorySegment.copy(send, 0, recv, 0, count * F);
            return;
        }
        if (rank == 0) {
            MemorySegment acc = scratch(count * size);
            MemorySegment.copy(send, 0, acc, 0, count * size * F);
            for (int r = 1; r < size; r++) {
                expect(r, REDUCE_SCATTER, count * size);
                receive(r, acc, 0, count * size, true, REDUCE_SCATTER);
            }
            for (int r = 1; r < size; r++) {
                send(r, REDUCE_SCATTER, acc, r * count, count);
            }
            MemorySegment.copy(acc, 0, recv, 0, count * F);
        } else {
            send(0, REDUCE_SCATTER, send, 0, count * size);
            expect(0, REDUCE_SCATTER, count);
            receive(0, recv, 0, count, false, REDUCE_SCATTER);
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
        if (rank == 0) {
            allToAllAtRoot(send, sendCounts, recv, recvCounts);
            return;
        }
        // Step one: the counts, so rank 0 checks the whole matrix and gives every rank the same verdict.
        Link link = links[0];
        try {
            link.out.writeInt(ALL_TO_ALL);
            link.out.writeLong(2L * size);
            for (long c : sendCounts) {
                link.out.writeLong(c);
            }
            for (long c : recvCounts) {
                link.out.writeLong(c);
            }
            link.out.flush();
            int verdict = link.in.readInt();
            if (verdict == ERROR) {
                String why = link.in.readUTF();
                abort(why);
                close();
                throw new IllegalArgumentException(why);
            }
        } catch (IOException e) {
            throw lost(0, ALL_TO_ALL, e);
        }
        send(0, ALL_TO_ALL, send, 0, Collectives.sum(sendCounts));
        expect(0, ALL_TO_ALL, Collectives.sum(recvCounts));
        receive(0, recv, 0, Collectives.sum(recvCounts), false, ALL_TO_ALL);
    }

    private void allToAllAtRoot(MemorySegment send, long[] sendCounts, MemorySegment recv, long[] recvCounts) {
        long[][] sends = new long[size][];
        long[][] recvs = new long[size][];
        sends[0] = sendCounts;
        recvs[0] = recvCounts;
        for (int r = 1; r < size; r++) {
            expect(r, ALL_TO_ALL, 2L * size);
            sends[r] = new long[size];
            recvs[r] = new long[size];
            try {
                for (int q = 0; q < size; q++) {
                    sends[r][q] = links[r].in.readLong();
                }
                for (int q = 0; q < size; q++) {
                    recvs[r][q] = links[r].in.readLong();
                }
            } catch (IOException e) {
                throw lost(r, ALL_TO_ALL, e);
            }
        }
        String mismatch = null;
        for (int p = 0; p < size && mismatch == null; p++) {
            for (int q = 0; q < size; q++) {
                if (sends[p][q] != recvs[q][p]) {
                    mismatch = "all-to-all counts disagree: rank " + p + " sends " + sends[p][q]
                            + " elements to rank " + q + ", which expects " + recvs[q][p];
                    break;
                }
            }
        }
        for (int r = 1; r < size; r++) {
            try {
                links[r].out.writeInt(mismatch == null ? OK : ERROR);
                if (mismatch != null) {
                    links[r].out.writeUTF(mismatch);
                }
                links[r].out.flush();
            } catch (IOException e) {
                throw lost(r, ALL_TO_ALL, e);
            }
        }
        if (mismatch != null) {
            abort(mismatch);
            throw new IllegalArgumentException(mismatch);
        }
        // Every rank's send buffer, back to back in rank order; part (p → q) starts at base[p] + Σ sends[p][< q].
        long[] base = new long[size + 1];
        for (int p = 0; p < size; p++) {
            base[p + 1] = base[p] + Collectives.sum(sends[p]);
        }
        MemorySegment all = scratch(base[size]);
        MemorySegment.copy(send, 0, all, 0, base[1] * F);
        for (int r = 1; r < size; r++) {
            expect(r, ALL_TO_ALL, base[r + 1] - base[r]);
            receive(r, all, base[r], base[r + 1] - base[r], false, ALL_TO_ALL);
        }
        for (int q = 0; q < size; q++) {
            long total = Collectives.sum(recvs[q]);
            if (q > 0) {
                header(q, ALL_TO_ALL, total);
            }
            long to = 0;
            for (int p = 0; p < size; p++) {
                long from = base[p];
                for (int k = 0; k < q; k++) {
                    from += sends[p][k];
                }
                long n = sends[p][q];
                if (q == 0) {
                    MemorySegment.copy(all, from * F, recv, to * F, n * F);
                } else {
                    payload(q, ALL_TO_ALL, all, from, n);
                }
                to += n;
            }
            if (q > 0) {
                flush(q, ALL_TO_ALL);
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
        if (size == 1) {
            return;
        }
        if (rank == 0) {
            if (root != 0) {
                expect(root, BROADCAST, count);
                receive(root, buf, 0, count, false, BROADCAST);
            }
            for (int r = 1; r < size; r++) {
                if (r != root) {
                    send(r, BROADCAST, buf, 0, count);
                }
            }
        } else if (rank == root) {
            send(0, BROADCAST, buf, 0, count);
        } else {
            expect(0, BROADCAST, count);
            receive(0, buf, 0, count, false, BROADCAST);
        }
    }

    @Override
    public void barrier() {
        usable();
        if (size == 1) {
            return;
        }
        MemorySegment none = MemorySegment.NULL;
        if (rank == 0) {
            for (int r = 1; r < size; r++) {
                expect(r, BARRIER, 0);
            }
            for (int r = 1; r < size; r++) {
                send(r, BARRIER, none, 0, 0);
            }
        } else {
            send(0, BARRIER, none, 0, 0);
            expect(0, BARRIER, 0);
        }
    }

    /** Leaves the group: the connections close, so a peer waiting on this rank fails instead of hanging. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            if (rank != 0 && watches[0] != null) {
                try {
                    watches[0].getOutputStream().write(LEAVE);
                    watches[0].getOutputStream().flush();
                } catch (IOException ignored) {
                    // rank 0 is gone already
                }
            }
            for (Link l : links) {
                if (l != null) {
                    closeQuietly(l.socket());
                }
            }
            for (Socket s : watches) {
                closeQuietly(s);
            }
        }
    }

    private void send(int to, int op, MemorySegment seg, long offset, long count) {
        header(to, op, count);
        payload(to, op, seg, offset, count);
        flush(to, op);
    }

    private void header(int to, int op, long count) {
        try {
            links[to].out.writeInt(op);
            links[to].out.writeLong(count);
        } catch (IOException e) {
            throw lost(to, op, e);
        }
    }

    private void payload(int to, int op, MemorySegment seg, long offset, long count) {
        try {
            long bytes = count * F;
            for (long done = 0; done < bytes; done += CHUNK) {
                int n = (int) Math.min(CHUNK, bytes - done);
                MemorySegment.copy(seg, offset * F + done, chunkSegment, 0, n);
                links[to].out.write(chunk, 0, n);
            }
        } catch (IOException e) {
            throw lost(to, op, e);
        }
    }

    private void flush(int to, int op) {
        try {
            links[to].out.flush();
        } catch (IOException e) {
            throw lost(to, op, e);
        }
    }

    /** Reads the next frame's header from {@code from}: it must be collective {@code op} with {@code count}. */
    private void expect(int from, int op, long count) {
        usable();
        int theirOp;
        long theirCount;
        try {
            theirOp = links[from].in.readInt();
            theirCount = links[from].in.readLong();
        } catch (IOException e) {
            throw lost(from, op, e);
        }
        if (theirOp != op || theirCount != count) {
            String why = "rank " + links[from].rank() + " called " + name(theirOp) + " of " + theirCount
                    + " elements while rank " + rank + " called " + name(op) + " of " + count;
            abort(why);
            close();
            throw new CommunicatorException(why);
        }
    }

    /** Reads {@code count} floats from {@code from} into {@code seg} at {@code offset}, or adds them to what is there. */
    private void receive(int from, MemorySegment seg, long offset, long count, boolean add, int op) {
        try {
            long bytes = count * F;
            for (long done = 0; done < bytes; done += CHUNK) {
                int n = (int) Math.min(CHUNK, bytes - done);
                links[from].in.readFully(chunk, 0, n);
                long at = offset * F + done;
                if (add) {
                    for (int i = 0; i < n; i += (int) F) {
                        seg.set(FLOAT, at + i, seg.get(FLOAT, at + i) + chunkSegment.get(FLOAT, i));
                    }
                } else {
                    MemorySegment.copy(chunkSegment, 0, seg, at, n);
                }
            }
        } catch (IOException e) {
            throw lost(from, op, e);
        }
    }

    private CommunicatorException lost(int peer, int op, IOException e) {
        String why;
        if (broken != null) {
            why = broken + " while rank " + rank + " waited in " + name(op);
        } else {
            Link l = links[peer];
            String who = "rank " + l.rank() + " (" + l.address() + ")";
            why = e instanceof SocketTimeoutException ? who + " did not answer within its timeout while rank " + rank
                    + " waited in " + name(op)
                    : e instanceof EOFException ? who + " closed its connection (its process exited or left the "
                            + "group) while rank " + rank + " waited in " + name(op)
                    : "connection to " + who + " lost while rank " + rank + " waited in " + name(op) + ": "
                            + e.getMessage();
        }
        abort(why);
        close();
        return new CommunicatorException(why, e);
    }

    private void usable() {
        if (closed && broken == null) {
            throw new IllegalStateException("rank " + rank + " has closed its communicator");
        }
        if (broken != null) {
            throw new CommunicatorException("the group failed earlier: " + broken);
        }
    }

    private void check(MemorySegment seg, long count, String what) {
        usable();
        try {
            Collectives.checkCount(seg, count, what);
        } catch (IllegalArgumentException e) {
            throw abortOn(e);
        }
    }

    private IllegalArgumentException abortOn(IllegalArgumentException e) {
        abort("rank " + rank + ": " + e.getMessage());
        close();
        return e;
    }

    /** Marks the group failed; closing the connections makes every peer's next read fail. */
    private void abort(String why) {
        if (broken == null) {
            broken = why;
        }
        if (rank == 0) {
            for (Link l : links) {
                if (l != null) {
                    closeQuietly(l.socket());
                }
            }
        }
    }

    private MemorySegment scratch(long n) {
        if (scratch.length < n) {
            scratch = new float[Math.toIntExact(Math.max(n, 2L * scratch.length))];
            scratchSegment = MemorySegment.ofArray(scratch);
        }
        return scratchSegment;
    }

    private static String name(int op) {
        return op >= 0 && op < NAMES.length ? NAMES[op] : "op " + op;
    }

    private static void closeAll(Link[] links, Socket[] watches) {
        for (Link l : links) {
            if (l != null) {
                closeQuietly(l.socket());
            }
        }
        for (Socket s : watches) {
            closeQuietly(s);
        }
    }

    private static void closeQuietly(Socket s) {
        if (s != null) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing is all that is left to do
            }
        }
    }
}
