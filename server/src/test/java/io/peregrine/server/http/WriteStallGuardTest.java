package io.peregrine.server.http;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelOption;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.embedded.EmbeddedChannel;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Unflushed writes past the high-water mark stand in for a client that has stopped reading; time is simulated. */
class WriteStallGuardTest {

    private static EmbeddedChannel channel() {
        EmbeddedChannel ch = new EmbeddedChannel(new WriteStallGuard(Duration.ofSeconds(120)));
        ch.config().setOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(8, 16));
        ch.freezeTime();
        return ch;
    }

    @Test
    void aConnectionUnwritableForTheWholeTimeoutIsClosed() {
        EmbeddedChannel ch = channel();
        ch.write(Unpooled.wrappedBuffer(new byte[64])); // never flushed: the "socket" stays full
        assertFalse(ch.isWritable());
        ch.advanceTimeBy(119, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
        assertTrue(ch.isOpen(), "not yet");
        ch.advanceTimeBy(2, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
        assertFalse(ch.isOpen(), "a client that read nothing for the timeout is cut off");
    }

    @Test
    void aClientThatReadsAgainResetsTheClock() {
        EmbeddedChannel ch = channel();
        ch.write(Unpooled.wrappedBuffer(new byte[64]));
        ch.advanceTimeBy(100, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
        ch.flush(); // the client took the bytes: writable again
        assertTrue(ch.isWritable());
        ch.write(Unpooled.wrappedBuffer(new byte[64]));
        ch.advanceTimeBy(100, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
        assertTrue(ch.isOpen(), "two stalls of 100 s are not one of 200 s");
        ch.advanceTimeBy(30, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
        assertFalse(ch.isOpen());
        ch.finishAndReleaseAll();
    }
}
