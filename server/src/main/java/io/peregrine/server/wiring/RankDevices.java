package io.peregrine.server.wiring;

import java.util.Arrays;
import java.util.List;

/**
 * Which GPU a rank drives, as vLLM and torchrun assign them: the rank's place on its node (its local rank) is the
 * device ordinal among the devices this process sees. {@code CUDA_VISIBLE_DEVICES} is applied by the CUDA driver
 * itself (ordinal 0 is its first entry), so the ordinal is the same with or without it; the entry is kept only to name
 * the physical device in the log. Every rank of a node inherits the node's environment, so they all see the same set.
 *
 * @param cudaVisibleDevices the variable as this process has it, or null when unset
 */
public record RankDevices(String cudaVisibleDevices) {

    /** This process's view. */
    public static RankDevices fromEnvironment() {
        return new RankDevices(System.getenv("CUDA_VISIBLE_DEVICES"));
    }

    /** The device ordinal of global {@code rank} with {@code ranksPerNode} ranks on each node: its local rank. */
    public static int ordinal(int rank, int ranksPerNode) {
        if (ranksPerNode < 1 || rank < 0) {
            throw new IllegalArgumentException("rank " + rank + " with " + ranksPerNode + " ranks per node");
        }
        return rank % ranksPerNode;
    }

    /**
     * Start-up check: one GPU per rank on this node.
     *
     * @param visible the devices the driver shows (after {@code CUDA_VISIBLE_DEVICES})
     * @throws IllegalArgumentException with the counts when there are fewer than {@code ranksPerNode}
     */
    public void requireDevices(int ranksPerNode, int visible) {
        if (visible < ranksPerNode) {
            throw new IllegalArgumentException("--tensor-parallel-size puts " + ranksPerNode + " ranks on this node, one "
                    + "GPU each, but " + visible + " GPU" + (visible == 1 ? " is" : "s are") + " visible"
                    + (cudaVisibleDevices == null ? "" : " (CUDA_VISIBLE_DEVICES=" + cudaVisibleDevices + ")"));
        }
    }

    /** The physical device behind {@code ordinal}, for the log: {@code cuda:1 (CUDA_VISIBLE_DEVICES entry 5)}. */
    public String describe(int ordinal) {
        List<String> entries = entries();
        return "cuda:" + ordinal + (entries == null || ordinal >= entries.size() ? ""
                : " (CUDA_VISIBLE_DEVICES entry " + entries.get(ordinal) + ")");
    }

    /** The variable's entries (indices, {@code GPU-} UUIDs or MIG ids), or null when it is unset. */
    private List<String> entries() {
        if (cudaVisibleDevices == null) {
            return null;
        }
        return Arrays.stream(cudaVisibleDevices.split(",")).map(String::strip).filter(s -> !s.isEmpty()).toList();
    }
}
