package io.peregrine.server.app;

import io.peregrine.server.serving.ModelRuntime;
import io.peregrine.server.serving.ServingState;
import java.util.logging.Logger;

/**
 * What SIGTERM does (run from a JVM shutdown hook): stop taking work (new requests and readiness get 503
 * "shutting_down" at once, so a load balancer moves traffic away), let running requests finish for up to
 * the timeout while their streams keep flowing, abort what is left, then close the HTTP server.
 */
public final class ShutdownSequence implements Runnable {
    private static final Logger LOG = Logger.getLogger(ShutdownSequence.class.getName());

    private final ServingState state;
    private final HttpServer server;
    private final long timeoutMillis;

    public ShutdownSequence(ServingState state, HttpServer server, long timeoutMillis) {
        this.state = state;
        this.server = server;
        this.timeoutMillis = timeoutMillis;
    }

    @Override
    public void run() {
        state.draining();
        ModelRuntime rt = state.runtimeOrNull();
        try {
            if (rt != null) {
                LOG.info("draining running requests for up to " + timeoutMillis + " ms");
                rt.engine().drain(timeoutMillis);
                rt.engine().close();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            server.close();
            LOG.info("stopped");
            if (java.util.logging.LogManager.getLogManager() instanceof io.peregrine.server.ServerLogManager) {
                io.peregrine.server.ServerLogManager.closeNow();
            }
        }
    }
}
