package io.peregrine.server.bench;

import java.util.Random;

/** What a request does to the server besides asking for tokens. */
public enum Fault {
    /** An ordinary request, measured. */
    NONE,
    /** Hangs up after the first bytes of the response (mid-stream), or while waiting for a non-streamed one. */
    DISCONNECT,
    /** Sends a broken request and expects a 4xx. */
    MALFORMED,
    /** Stops reading its stream for a while with a small receive buffer, then hangs up. */
    SLOW_READER;

    /**
     * Draws each request's fault from a seeded generator of its own, so the plan does not depend on the
     * arrival schedule or on how many prompts there are.
     */
    public static Fault[] plan(int requests, double disconnectRate, double malformedRate, double slowReaderRate,
                               long seed) {
        double total = disconnectRate + malformedRate + slowReaderRate;
        if (disconnectRate < 0 || malformedRate < 0 || slowReaderRate < 0 || total > 1.0 + 1e-9) {
            throw new IllegalArgumentException("fault rates must be >= 0 and sum to at most 1, got disconnect="
                    + disconnectRate + " malformed=" + malformedRate + " slow-reader=" + slowReaderRate);
        }
        Random r = new Random(seed ^ 0x5DEECE66DL * 31);
        Fault[] plan = new Fault[requests];
        for (int i = 0; i < requests; i++) {
            double u = r.nextDouble();
            plan[i] = u < disconnectRate ? DISCONNECT
                    : u < disconnectRate + malformedRate ? MALFORMED
                    : u < total ? SLOW_READER : NONE;
        }
        return plan;
    }
}
