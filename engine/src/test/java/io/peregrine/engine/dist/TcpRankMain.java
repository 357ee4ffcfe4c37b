package io.peregrine.engine.dist;

import java.net.InetSocketAddress;
import java.time.Duration;

/**
 * One rank of a TCP test group in its own JVM. Arguments: port rank size seed ops maxCount mode, where mode is
 * {@code script} (play {@link CollectiveScript}) or {@code die} (join, pass one barrier, then vanish without closing).
 * Exit status 0 when the script checked out, 1 on a wrong result, 3 on a communicator failure.
 */
public final class TcpRankMain {
    private TcpRankMain() {}

    public static void main(String[] a) {
        int rank = Integer.parseInt(a[1]);
        try (TcpCommunicator c = TcpCommunicator.open(new InetSocketAddress("127.0.0.1", Integer.parseInt(a[0])),
                rank, Integer.parseInt(a[2]), Duration.ofSeconds(30), Duration.ofSeconds(30))) {
            if (a[6].equals("die")) {
                c.barrier();
                Runtime.getRuntime().halt(0);
            }
            CollectiveScript.run(c, Long.parseLong(a[3]), Integer.parseInt(a[4]), Integer.parseInt(a[5]));
        } catch (CommunicatorException e) {
            System.err.println("rank " + rank + ": " + e.getMessage());
            System.exit(3);
        } catch (Throwable e) {
            System.err.println("rank " + rank + ": " + e);
            System.exit(1);
        }
        System.exit(0);
    }
}
