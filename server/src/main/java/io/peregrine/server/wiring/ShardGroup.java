package io.peregrine.server.wiring;

import io.peregrine.engine.dist.Communicator;
import io.peregrine.engine.dist.ShmCommunicator;
import io.peregrine.engine.dist.TcpCommunicator;
import io.peregrine.engine.model.KimiTextModel;
import io.peregrine.engine.model.ShardedModel;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.logging.Logger;

/**
 * The ranks of {@code serve --tensor-parallel-size N} as rank 0 sees them: this JVM is rank 0; the others on this host
 * are worker processes it starts itself ({@code peregrine worker}, same {@code java}, class path and JVM flags),
 * joined over a {@code shm} communicator on one node, or over TCP with the other nodes' ranks ({@link #launchLeader}). It supervises them: a worker that exits while the group is serving, or a step that
 * fails because the group broke, is reported once through {@code onFailure} (the server then answers 503); closing
 * stops the workers, waits for them and destroys any that remain.
 */
public final class ShardGroup implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(ShardGroup.class.getName());
    /** Bytes each rank exchanges per communicator step (rank 0 and the workers must agree). */
    public static final long SLOT_BYTES = 1L << 20;
    /**
     * Rank 0's longest wait for a worker that is alive (a dead one is noticed within milliseconds): the first step
     * waits for every worker to finish loading its shard.
     */
    static final Duration RANK0_TIMEOUT = Duration.ofMinutes(30);
    private static final Duration JOIN_TIMEOUT = Duration.ofMinutes(2);
    /** Across nodes the others may start minutes later (a scheduler placing pods, an image being pulled). */
    public static final Duration NODES_JOIN_TIMEOUT = Duration.ofMinutes(10);
    private static final long STOP_WAIT_MILLIS = 10_000;

    private final Path dir;
    private final List<Process> workers;
    private final Communicator comm;
    private final Consumer<String> onFailure;
    /** The ranks' device collectives (NCCL), when the model's collectives do not go through {@link #comm}. */
    private volatile Communicator deviceCollectives;
    private volatile boolean closing;
    private volatile boolean failed;
    private ShardedModel model;

    private ShardGroup(Path dir, List<Process> workers, Communicator comm, Consumer<String> onFailure) {
        this.dir = dir;
        this.workers = workers;
        this.comm = comm;
        this.onFailure = onFailure;
    }

    /**
     * Starts ranks 1 .. size − 1 on {@code checkpoint} and joins them as rank 0.
     *
     * @param workerFlags flags every worker gets besides its rank and group (shard choice, backend threads)
     * @param onFailure   told once, with the reason, when the group can no longer run the model
     */
    public static ShardGroup launch(Path checkpoint, int size, List<String> workerFlags, Consumer<String> onFailure) {
        Path dir;
        try {
            dir = Files.createTempDirectory("peregrine-ranks-");
        } catch (IOException e) {
            throw new IllegalStateException("cannot create the shared-memory directory: " + e.getMessage(), e);
        }
        Path file = dir.resolve("group");
        List<Process> workers = new ArrayList<>();
        try {
            for (int r = 1; r < size; r++) {
                workers.add(startWorker(checkpoint, r, size, List.of("--shm", file.toString()), workerFlags));
            }
            LOG.info("started " + workers.size() + " worker rank(s): pids "
                    + workers.stream().map(p -> String.valueOf(p.pid())).toList());
            Communicator comm = join(() -> ShmCommunicator.open(file, 0, size, SLOT_BYTES, RANK0_TIMEOUT), workers, 1,
                    JOIN_TIMEOUT);
            return supervise(dir, workers, comm, 1, onFailure);
        } catch (IOException e) {
            destroy(workers, dir);
            throw new IllegalStateException("cannot start a worker rank: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            destroy(workers, dir);
            throw e;
        }
    }

    /**
     * Node 0 of a multi-node group ({@code --nnodes}): listens on {@code --master-port}, starts this node's ranks
     * 1 .. perNode − 1 (they join over loopback), and waits up to {@link #NODES_JOIN_TIMEOUT} for the other nodes'
     * ranks. The whole group talks TCP ({@link TcpCommunicator}); a rank on another node that is lost, also while the
     * server is idle, fails the group as a local worker's exit does.
     */
    public static ShardGroup launchLeader(Path checkpoint, int size, Nodes nodes, List<String> workerFlags,
                                          Consumer<String> onFailure) {
        int perNode = nodes.ranksPerNode(size);
        TcpCommunicator.Listener listener = TcpCommunicator.listen(nodes.masterPort());
        Path dir;
        try {
            dir = Files.createTempDirectory("peregrine-ranks-");
        } catch (IOException e) {
            listener.close();
            throw new IllegalStateException("cannot create the group's directory: " + e.getMessage(), e);
        }
        List<Process> workers = new ArrayList<>();
        try {
            List<String> group = List.of("--master-addr", "127.0.0.1", "--master-port",
                    String.valueOf(listener.port()));
            for (int r = 1; r < perNode; r++) {
                workers.add(startWorker(checkpoint, r, size, group, workerFlags));
            }
            LOG.info("node 0 of " + nodes.nnodes() + ": listening on port " + listener.port() + " for " + (size - 1)
                    + " rank(s), " + workers.size() + " of them started here"
                    + (workers.isEmpty() ? "" : " (pids " + workers.stream().map(p -> String.valueOf(p.pid())).toList() + ")"));
            TcpCommunicator comm = join(() -> listener.accept(size, NODES_JOIN_TIMEOUT, RANK0_TIMEOUT),
                    workers, 1, NODES_JOIN_TIMEOUT);
            LOG.info("all " + size + " ranks of " + nodes.nnodes() + " nodes joined");
            ShardGroup g = supervise(dir, workers, comm, 1, onFailure);
            comm.onPeerLost(g::fail);
            return g;
        } catch (IOException e) {
            destroy(workers, dir);
            throw new IllegalStateException("cannot start a worker rank: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            destroy(workers, dir);
            throw e;
        } finally {
            listener.close();
        }
    }

    private static ShardGroup supervise(Path dir, List<Process> workers, Communicator comm, int firstRank,
                                        Consumer<String> onFailure) {
        ShardGroup group = new ShardGroup(dir, workers, comm, onFailure);
        for (int r = 0; r < workers.size(); r++) {
            int rank = r + firstRank;
            Process p = workers.get(r);
            p.onExit().thenAccept(done -> group.workerExited(rank, done));
        }
        return group;
    }

    /** {@code peregrine worker} for one rank: this JVM's launch, the rank, how it joins, and the shared flags. */
    static Process startWorker(Path checkpoint, int rank, int size, List<String> groupFlags, List<String> workerFlags)
            throws IOException {
        List<String> cmd = new ArrayList<>(jvmCommand());
        cmd.addAll(List.of("io.peregrine.server.Main", "worker", "--rank", String.valueOf(rank), "--size",
                String.valueOf(size), "--model", checkpoint.toString()));
        cmd.addAll(groupFlags);
        cmd.addAll(workerFlags);
        return new ProcessBuilder(cmd).inheritIO().start();
    }

    /**
     * Opens the group as rank 0 while watching the workers: one that exits before it joins (a bad flag, too little
     * memory) fails the start at once instead of after the join's timeout.
     */
    private static <C extends Communicator> C join(Supplier<C> opening, List<Process> workers, int firstRank,
                                                   Duration joinTimeout) {
        CompletableFuture<C> open = CompletableFuture.supplyAsync(opening, runnable -> {
                    Thread t = new Thread(runnable, "peregrine-rank0-join");
                    t.setDaemon(true);
                    t.start();
                });
        long deadline = System.nanoTime() + joinTimeout.toNanos();
        while (true) {
            try {
                return open.get(50, TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                for (int r = 0; r < workers.size(); r++) {
                    if (!workers.get(r).isAlive()) {
                        throw new IllegalStateException("worker rank " + (r + firstRank) + " (pid " + workers.get(r).pid()
                                + ") exited with status " + workers.get(r).exitValue() + " before joining the group");
                    }
                }
                if (System.nanoTime() - deadline > 0) {
                    throw new IllegalStateException("the worker ranks did not join within " + joinTimeout);
                }
            } catch (ExecutionException e) {
                throw e.getCause() instanceof RuntimeException re ? re : new IllegalStateException(e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while the worker ranks joined", e);
            }
        }
    }

    /** The group's communicator, for loading rank 0's shard. */
    public Communicator communicator() {
        return comm;
    }

    /**
     * Rank 0's device collectives (NCCL on a CUDA group), closed with the group after the workers are gone. The
     * group's own communicator stays the control plane: {@link #serve} broadcasts each step's inputs over it.
     */
    public void closeWith(Communicator collectives) {
        deviceCollectives = collectives;
    }

    /** Rank 0's model as the engine drives it: each step goes to the workers first; a broken group is reported. */
    public ShardedModel serve(KimiTextModel rank0) {
        model = new ShardedModel(rank0, comm, e -> fail(e.getMessage()));
        return model;
    }

    public List<ProcessHandle> workers() {
        return workers.stream().map(Process::toHandle).toList();
    }

    private void workerExited(int rank, Process p) {
        if (!closing) {
            fail("worker rank " + rank + " (pid " + p.pid() + ") exited with status " + p.exitValue());
        }
    }

    private void fail(String why) {
        if (closing || failed) {
            return;
        }
        failed = true;
        LOG.severe("the sharded model can no longer run: " + why);
        Communicator device = deviceCollectives;
        if (device != null) {
            // NCCL would wait for the dead peer forever, holding the engine thread in its step
            try {
                device.abort();
            } catch (RuntimeException e) {
                LOG.warning("could not abort the device collectives: " + e.getMessage());
            }
        }
        onFailure.accept(why);
    }

    /**
     * Stops the workers: rank 0 tells them to return (when the group is still whole), waits for them, destroys any
     * that remain, then leaves the group. Call once the engine thread has stopped (it owns the communicator). The stop
     * is sent from its own thread, bounded by the wait: a hung worker can hold it up, not the shutdown.
     */
    @Override
    public void close() {
        closing = true;
        Thread stop = Thread.ofPlatform().daemon().name("peregrine-stop-ranks").start(() -> {
            try {
                if (model != null && !failed) {
                    model.close();
                }
            } catch (RuntimeException e) {
                LOG.warning("could not tell the workers to stop: " + e.getMessage());
            }
        });
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(STOP_WAIT_MILLIS);
        for (Process p : workers) {
            try {
                long left = Math.max(0, end - System.nanoTime());
                if (!p.waitFor(left, TimeUnit.NANOSECONDS)) {
                    LOG.warning("worker pid " + p.pid() + " did not stop; destroying it");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        destroy(workers, dir);
        try {
            // with every worker gone, a stop still waiting sees a dead peer within milliseconds
            stop.join(2_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        comm.close();
        Communicator device = deviceCollectives;
        if (device != null) {
            try {
                device.close();
            } catch (RuntimeException e) {
                LOG.warning("could not close the device collectives: " + e.getMessage());
            }
        }
        LOG.info("worker ranks stopped");
    }

    private static void destroy(List<Process> workers, Path dir) {
        for (Process p : workers) {
            p.destroyForcibly();
        }
        for (Process p : workers) {
            try {
                p.waitFor(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        try (var files = Files.list(dir)) {
            for (Path f : files.toList()) {
                Files.deleteIfExists(f);
            }
            Files.deleteIfExists(dir);
        } catch (IOException e) {
            LOG.fine(() -> "could not remove " + dir + ": " + e.getMessage());
        }
    }

    /**
     * This JVM's own launch, for a worker: {@code java}, its flags (heap, vector module, native access, logging)
     * less a debugger's agent, which would clash on its port, and its class path.
     */
    static List<String> jvmCommand() {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (!a.startsWith("-agentlib:jdwp") && !a.startsWith("-Xrunjdwp")) {
                cmd.add(a);
            }
        }
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        return cmd;
    }
}
