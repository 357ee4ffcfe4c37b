package io.peregrine.server.bench;

import java.util.concurrent.CountDownLatch;

/**
 * Runs {@link PacedServer} until killed, so {@code scripts/soak.sh --attach} and {@code peregrine bench} can be
 * tried by hand without a model: {@code java -cp <test classpath> io.peregrine.server.bench.PacedServerMain
 * PORT TOKEN_MILLIS [leak]}.
 */
public final class PacedServerMain {
    private PacedServerMain() {}

    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        long tokenMillis = args.length > 1 ? Long.parseLong(args[1]) : 5;
        boolean leak = args.length > 2 && args[2].equals("leak");
        PacedServer server = new PacedServer(tokenMillis, leak, port);
        System.out.println("paced fake server on " + server.baseUrl() + (leak ? " (leaks aborted requests)" : ""));
        new CountDownLatch(1).await();
    }
}
