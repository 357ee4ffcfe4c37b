package io.peregrine.server.http;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * Closes a connection that has stayed unwritable for too long: the client takes none of the bytes already sent
 * (its socket and Netty's buffer past the high-water mark stay full) while the output waits. Closing aborts the
 * request through the usual disconnect path. A client that reads, however slowly, makes the channel writable again
 * and resets the clock; the streaming code's own byte cap still catches one that reads too slowly to keep up.
 */
public final class WriteStallGuard extends ChannelDuplexHandler {
    private static final Logger LOG = Logger.getLogger(WriteStallGuard.class.getName());

    private final long timeoutNanos;
    private ScheduledFuture<?> pendingClose;

    public WriteStallGuard(Duration timeout) {
        this.timeoutNanos = timeout.toNanos();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
        if (ctx.channel().isWritable()) {
            cancel();
        } else if (pendingClose == null) {
            pendingClose = ctx.executor().schedule(() -> {
                pendingClose = null;
                if (!ctx.channel().isWritable() && ctx.channel().isOpen()) {
                    LOG.warning("client at " + ctx.channel().remoteAddress() + " has read nothing for "
                            + Duration.ofNanos(timeoutNanos).toSeconds() + " s while output waits; closing");
                    ctx.close();
                }
            }, timeoutNanos, TimeUnit.NANOSECONDS);
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        cancel();
        ctx.fireChannelInactive();
    }

    private void cancel() {
        if (pendingClose != null) {
            pendingClose.cancel(false);
            pendingClose = null;
        }
    }
}
