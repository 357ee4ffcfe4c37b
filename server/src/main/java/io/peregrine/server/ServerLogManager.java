package io.peregrine.server;

import java.util.logging.LogManager;

/**
 * java.util.logging closes its handlers from its own shutdown hook, which races the server's drain-on-SIGTERM
 * hook: the drain's log lines would be lost. The launcher installs this manager
 * ({@code -Djava.util.logging.manager}); it keeps handlers open until the server's shutdown sequence is done.
 */
public final class ServerLogManager extends LogManager {
    private static volatile boolean closing;

    @Override
    public void reset() {
        if (closing || !shuttingDown()) {
            super.reset();
        }
    }

    /** Called last by the shutdown sequence. */
    public static void closeNow() {
        closing = true;
        LogManager.getLogManager().reset();
    }

    private static boolean shuttingDown() {
        try {
            Thread probe = new Thread(() -> {});
            Runtime.getRuntime().addShutdownHook(probe);
            Runtime.getRuntime().removeShutdownHook(probe);
            return false;
        } catch (IllegalStateException e) {
            return true;
        }
    }
}
