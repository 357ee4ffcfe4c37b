package io.peregrine.server.http;

import io.netty.channel.Channel;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.util.AttributeKey;
import java.util.ArrayDeque;

/**
 * One connection's requests, served one at a time. HTTP/1.1 lets a client pipeline requests, and their answers
 * must come back in the order they were sent; since chat and completion requests are answered from request
 * threads and the engine, a later cheap request (e.g. {@code /health}) would otherwise overtake an earlier
 * generation, and its {@code Connection: close} would cut that generation's answer off. Event-loop confined.
 */
public final class RequestQueue {
    private static final AttributeKey<RequestQueue> KEY = AttributeKey.valueOf("peregrine.requestQueue");
    /** Past this many waiting requests the connection stops reading until the queue drains. */
    static final int MAX_WAITING = 16;

    private final ArrayDeque<FullHttpRequest> waiting = new ArrayDeque<>();
    private boolean busy;

    public static RequestQueue of(Channel ch) {
        RequestQueue q = ch.attr(KEY).get();
        if (q == null) {
            q = new RequestQueue();
            ch.attr(KEY).set(q);
        }
        return q;
    }

    /** True when the caller may serve {@code req} now; otherwise it has been retained and parked. */
    public boolean admit(FullHttpRequest req, Channel ch) {
        if (!busy) {
            busy = true;
            return true;
        }
        waiting.add(req.retain());
        if (waiting.size() >= MAX_WAITING) {
            ch.config().setAutoRead(false);
        }
        return false;
    }

    /**
     * The current request has been answered: returns the next one to serve (the caller releases it), or null
     * and the connection is idle.
     */
    public FullHttpRequest next(Channel ch) {
        FullHttpRequest r = waiting.poll();
        busy = r != null;
        if (waiting.size() < MAX_WAITING && !ch.config().isAutoRead()) {
            ch.config().setAutoRead(true);
        }
        return r;
    }

    public boolean busy() {
        return busy;
    }

    /** The connection is gone: what was waiting will never be answered. */
    public void discard() {
        for (FullHttpRequest r; (r = waiting.poll()) != null; ) {
            r.release();
        }
    }
}
