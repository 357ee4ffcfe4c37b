package io.peregrine.server.wiring;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * {@code serve --node-rank R} with {@code R > 0}: a node that serves no HTTP, only its share of the ranks. It starts
 * this node's worker ranks (each joins node 0 at {@code --master-addr:--master-port}) and lives as long as they do:
 * when one fails (rank 0 or another node gone, its shard not loadable) it stops the others and exits 1, so the
 * orchestrator restarts the group rather than leaving a node half alive; when rank 0 stops them all (a drained
 * shutdown) it exits 0. SIGTERM stops the ranks and exits.
 */
public final class NodeRanks {
    private static final Logger LOG = Logger.getLogger(NodeRanks.class.getName());

    private NodeRanks() {}

    /** Runs this node's ranks to their end; returns the exit status. */
    public static int run(Path checkpoint, int size, Nodes nodes, List<String> workerFlags) {
        int perNode = nodes.ranksPerNode(size);
        int first = nodes.nodeRank() * perNode;
        List<String> group = List.of("--master-addr", nodes.masterAddr(), "--master-port",
                String.valueOf(nodes.masterPort()));
        List<Process> ranks = new CopyOnWriteArrayList<>(); // the shutdown hook reads it
        Thread hook = new Thread(() -> stop(ranks), "peregrine-stop-node-ranks");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            for (int r = first; r < first + perNode; r++) {
                ranks.add(ShardGroup.startWorker(checkpoint, r, size, group, workerFlags));
            }
        } catch (IOException e) {
            LOG.severe("cannot start a worker rank: " + e.getMessage());
            stop(ranks);
            return 1;
        }
        LOG.info("node " + nodes.nodeRank() + " of " + nodes.nnodes() + ": ranks " + first + ".." + (first + perNode - 1)
                + " of " + size + " started (pids " + ranks.stream().map(p -> String.valueOf(p.pid())).toList()
                + "), joining node 0 at " + nodes.masterAddr() + ":" + nodes.masterPort());
        List<CompletableFuture<Process>> exits = ranks.stream().map(Process::onExit).toList();
        int status = 0;
        while (exits.stream().anyMatch(f -> !f.isDone())) {
            CompletableFuture.anyOf(exits.stream().filter(f -> !f.isDone()).toArray(CompletableFuture[]::new)).join();
            for (int i = 0; i < ranks.size(); i++) {
                Process p = ranks.get(i);
                if (!p.isAlive() && p.exitValue() != 0 && status == 0) {
                    status = 1;
                    LOG.severe("rank " + (first + i) + " (pid " + p.pid() + ") exited with status " + p.exitValue()
                            + "; stopping this node's other ranks");
                    stop(ranks);
                }
            }
        }
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the hook is running or ran: nothing to remove
        }
        LOG.info("node " + nodes.nodeRank() + ": every rank has stopped");
        return status;
    }

    private static void stop(List<Process> ranks) {
        for (Process p : ranks) {
            p.destroy();
        }
        for (Process p : ranks) {
            try {
                if (!p.waitFor(10, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                p.destroyForcibly();
            }
        }
    }
}
