package io.peregrine.server.wiring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.peregrine.server.cli.ServeCommand;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The multi-node flags: what each node runs, and every inconsistent combination refused with a message naming it. */
class NodesTest {
    @Test
    void eachNodeRunsItsShareOfTheRanks() {
        Nodes n = new Nodes(2, 1, "leader.example", 29500);
        assertEquals(8, n.ranksPerNode(16));
        assertEquals(8, new RuntimeLoader.Parallel(16, true, n).ranksPerNode());
        assertEquals(4, new RuntimeLoader.Parallel(4, false).ranksPerNode());
        assertEquals(new Nodes(2, 0, null, 29500), new Nodes(2, 0, null, Nodes.DEFAULT_PORT));
    }

    @Test
    void inconsistentFlagsAreRefusedWithTheirNames() {
        Map<Runnable, String> cases = Map.of(
                () -> new Nodes(2, 2, "h", 29500), "--node-rank 2 is outside 0..1 (--nnodes 2)",
                () -> new Nodes(2, -1, "h", 29500), "--node-rank -1 is outside 0..1 (--nnodes 2)",
                () -> new Nodes(0, 0, null, 29500), "--nnodes must be at least 1, got 0",
                () -> new Nodes(2, 1, null, 29500), "--node-rank 1 needs --master-addr, the address of node 0",
                () -> new Nodes(2, 0, null, 70000), "--master-port must be a TCP port (1-65535), got 70000",
                () -> new Nodes(1, 0, "h", 29500), "--master-addr and --master-port are for several nodes (--nnodes above 1);"
                        + " the ranks of one node join over shared memory",
                () -> new RuntimeLoader.Parallel(3, false, new Nodes(2, 0, null, 29500)),
                "--tensor-parallel-size 3 is not divisible by --nnodes 2 (every node runs the same number of ranks)");
        cases.forEach((c, message) -> assertEquals(message,
                assertThrows(IllegalArgumentException.class, c::run).getMessage()));
    }

    /** serve refuses them before it binds a port or loads anything: exit status 2. */
    @Test
    void serveExitsWithStatusTwoOnInconsistentNodeFlags() {
        for (String[] args : new String[][] {
                {"--nnodes", "2", "--node-rank", "2", "--master-addr", "h", "-tp", "2"},
                {"--nnodes", "2", "-tp", "3"},
                {"--nnodes", "2", "--node-rank", "1", "-tp", "2"},
                {"--master-port", "1234"}}) {
            assertEquals(2, new CommandLine(new ServeCommand()).execute(args), String.join(" ", args));
        }
    }
}
