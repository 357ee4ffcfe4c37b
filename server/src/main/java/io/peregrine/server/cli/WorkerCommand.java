package io.peregrine.server.cli;

import io.peregrine.engine.backend.Backend;
import io.peregrine.engine.backend.Backends;
import io.peregrine.engine.backend.DeviceRanks;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.dist.Communicator;
import io.peregrine.engine.dist.ShmCommunicator;
import io.peregrine.engine.dist.TcpCommunicator;
import java.net.InetSocketAddress;
import io.peregrine.engine.model.KimiTextModel;
import io.peregrine.engine.model.ShardWorker;
import io.peregrine.engine.model.TextShard;
import io.peregrine.engine.shard.ShardingPlan;
import io.peregrine.server.wiring.RankDevices;
import io.peregrine.server.wiring.ShardGroup;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.logging.Logger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code peregrine worker}: one worker rank of {@code serve --tensor-parallel-size N}, started by rank 0 itself or,
 * on the other nodes of {@code --nnodes}, by {@code serve --node-rank R} (never by hand). Joins rank 0's group
 * ({@code --shm FILE} on one node, {@code --master-addr/--master-port} over TCP across nodes), loads its shard, runs the steps rank 0 broadcasts until told to
 * stop. It exits when rank 0 does, however rank 0 ends: a stop, a broken group, or its parent process gone (rank 0
 * on one node, the node's {@code serve} elsewhere).
 */
@Command(name = "worker", hidden = true, description = "A worker rank of serve --tensor-parallel-size (internal).")
public final class WorkerCommand implements Callable<Integer> {
    private static final Logger LOG = Logger.getLogger(WorkerCommand.class.getName());
    /** A worker waits for rank 0's next step as long as the server is idle; rank 0's death is noticed by its pid. */
    private static final Duration IDLE_FOREVER = Duration.ofDays(365L * 100);

    @Option(names = "--rank", required = true)
    int rank;

    @Option(names = "--size", required = true)
    int size;

    @Option(names = "--shm", paramLabel = "FILE")
    Path shm;

    @Option(names = "--master-addr", paramLabel = "HOST")
    String masterAddr;

    @Option(names = "--master-port", paramLabel = "PORT")
    Integer masterPort;

    @Option(names = "--model", required = true, paramLabel = "DIR")
    Path model;

    @Option(names = "--enable-expert-parallel")
    boolean expertParallel;

    @Option(names = "--threads", required = true)
    int threads;

    @Option(names = "--batch-invariant")
    boolean batchInvariant;

    /** {@code cpu}: the model's collectives over the host group; a device backend: one GPU per rank, NCCL. */
    @Option(names = "--backend", defaultValue = "cpu")
    String backend;

    /** With a device backend: this rank's GPU is its place on its node, {@code rank % ranksPerNode}. */
    @Option(names = "--ranks-per-node")
    Integer ranksPerNode;

    @Override
    public Integer call() {
        // Parent-death watch: rank 0 killed while this rank loads (before any collective could notice) ends it too.
        ProcessHandle.current().parent().ifPresent(p -> p.onExit().thenRun(() -> {
            LOG.severe("rank 0 (pid " + p.pid() + ") is gone; worker rank " + rank + " exits");
            Runtime.getRuntime().halt(3);
        }));
        DeviceRanks devices;
        try {
            devices = backend.equals("cpu") ? null : Backends.select(backend).deviceRanks();
        } catch (RuntimeException e) {
            LOG.severe("worker rank " + rank + " cannot use the " + backend + " backend: " + e.getMessage());
            return 1;
        }
        try (Checkpoint ck = Checkpoint.open(model);
             Communicator comm = join();
             Backend compute = devices == null ? Backends.select("cpu").create(threads, batchInvariant) : openDevice(devices);
             // the host group carries rank 0's steps (ShardWorker); the model's collectives are NCCL's on a GPU
             Communicator collectives = devices == null ? null : devices.collectives(compute, comm)) {
            ShardingPlan plan = new ShardingPlan(ck.config(), size, expertParallel);
            KimiTextModel shard = KimiTextModel.load(ck, compute, TextShard.of(plan, rank),
                    collectives == null ? comm : collectives, p -> { });
            LOG.info("worker rank " + rank + "/" + size + " loaded its shard (" + shard.weightBytesRead()
                    + " checkpoint bytes)");
            long steps = ShardWorker.run(shard, comm);
            LOG.info("worker rank " + rank + " stopped after " + steps + " steps");
            return 0;
        } catch (RuntimeException e) {
            LOG.severe("worker rank " + rank + " failed: " + e.getMessage());
            return 1;
        }
    }

    private Backend openDevice(DeviceRanks devices) {
        int ordinal = RankDevices.ordinal(rank, ranksPerNode == null ? size : ranksPerNode);
        LOG.info("worker rank " + rank + " on " + RankDevices.fromEnvironment().describe(ordinal));
        return devices.open(ordinal);
    }

    private Communicator join() {
        if ((shm == null) == (masterAddr == null || masterPort == null)) {
            throw new IllegalArgumentException("a worker joins either over --shm FILE or over --master-addr and "
                    + "--master-port");
        }
        return shm != null ? ShmCommunicator.open(shm, rank, size, ShardGroup.SLOT_BYTES, IDLE_FOREVER)
                : TcpCommunicator.open(new InetSocketAddress(masterAddr, masterPort), rank, size,
                        ShardGroup.NODES_JOIN_TIMEOUT, IDLE_FOREVER);
    }
}
