package io.peregrine.server.wiring;

/**
 * {@code --nnodes}, {@code --node-rank}, {@code --master-addr}, {@code --master-port}, as torchrun and SGLang spell
 * them: the hosts a tensor-parallel group spans. Node 0 runs rank 0 (the HTTP server and the scheduler) and listens
 * on {@code masterPort}; node {@code R} runs ranks {@code R × perNode .. (R + 1) × perNode − 1} and joins it at
 * {@code masterAddr:masterPort}. One node ({@link #ONE}) joins its ranks over shared memory instead.
 *
 * @param masterAddr node 0's address as the other nodes reach it; null on node 0 (it listens on every interface)
 */
public record Nodes(int nnodes, int nodeRank, String masterAddr, int masterPort) {
    /** torchrun's default port. */
    public static final int DEFAULT_PORT = 29500;
    public static final Nodes ONE = new Nodes(1, 0, null, DEFAULT_PORT);

    public Nodes {
        if (nnodes < 1) {
            throw new IllegalArgumentException("--nnodes must be at least 1, got " + nnodes);
        }
        if (nodeRank < 0 || nodeRank >= nnodes) {
            throw new IllegalArgumentException("--node-rank " + nodeRank + " is outside 0.." + (nnodes - 1) + " (--nnodes "
                    + nnodes + ")");
        }
        if (masterPort < 1 || masterPort > 65535) {
            throw new IllegalArgumentException("--master-port must be a TCP port (1-65535), got " + masterPort);
        }
        if (nnodes == 1 && (masterAddr != null || masterPort != DEFAULT_PORT)) {
            throw new IllegalArgumentException("--master-addr and --master-port are for several nodes (--nnodes above 1);"
                    + " the ranks of one node join over shared memory");
        }
        if (nodeRank > 0 && (masterAddr == null || masterAddr.isBlank())) {
            throw new IllegalArgumentException("--node-rank " + nodeRank + " needs --master-addr, the address of node 0");
        }
    }

    public boolean multiNode() {
        return nnodes > 1;
    }

    /** The ranks each node runs, checked: every node runs the same number. */
    public int ranksPerNode(int tensorParallelSize) {
        if (tensorParallelSize % nnodes != 0) {
            throw new IllegalArgumentException("--tensor-parallel-size " + tensorParallelSize + " is not divisible by "
                    + "--nnodes " + nnodes + " (every node runs the same number of ranks)");
        }
        return tensorParallelSize / nnodes;
    }
}
