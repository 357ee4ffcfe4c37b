package io.peregrine.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import jcuda.driver.CUcontext;
import jcuda.driver.CUstream;
import org.junit.jupiter.api.Test;

/**
 * How {@link CudaContext} and {@link DeviceBuffer} issue work, against a fake driver that keeps a current context per
 * thread as CUDA does: every call finds its own context current on whichever thread makes it, host copies are ordered
 * on the context's stream, and nothing a graph capture cannot hold is issued while the stream is capturing.
 */
class CudaContextTest {

    /** Every kind of work, as a check or the engine would issue it, each to be run on a thread of its own. */
    private static List<java.util.function.Consumer<CudaContext>> everything() {
        return List.of(
                ctx -> ctx.floats(16),
                ctx -> ctx.floats(16).upload(new float[16]),
                ctx -> ctx.floats(16).upload(new int[16]),
                ctx -> ctx.floats(16).upload(new short[32]),
                ctx -> ctx.floats(16).poison(DeviceBuffer.POISON_F32),
                ctx -> ctx.floats(16).floats(16),
                ctx -> ctx.floats(16).ints(16),
                ctx -> ctx.floats(16).shorts(32),
                ctx -> ctx.floats(16).close(),
                ctx -> ctx.launch(KernelName.AXPY, LaunchGeometry.of(1, 32), 1f, KernelArgs.NULL, KernelArgs.NULL, 16),
                CudaContext::sync,
                CudaContext::close);
    }

    private static CUcontext handle(CudaContext ctx, FakeDriver d) {
        // the context's handle is whatever its own makeCurrent installs on a fresh thread
        AtomicReference<CUcontext> h = new AtomicReference<>();
        Thread t = Thread.ofPlatform().unstarted(() -> {
            ctx.makeCurrent();
            d.capturing(ctx.stream());
            h.set(d.calls("capturing").getLast().current());
        });
        t.start();
        join(t);
        d.calls.clear();
        return h.get();
    }

    private static void join(Thread t) {
        try {
            t.join();
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void workFromAThreadThatNeverBoundTheContextFindsItCurrent() {
        FakeDriver d = new FakeDriver();
        CudaContext ctx = d.open("a");
        CUcontext mine = handle(ctx, d);
        for (var work : everything()) {
            AtomicReference<Throwable> failed = new AtomicReference<>();
            Thread t = Thread.ofPlatform().unstarted(() -> work.accept(ctx));  // a fresh thread: nothing current
            t.setUncaughtExceptionHandler((th, e) -> failed.set(e));
            t.start();
            join(t);
            assertEquals(null, failed.get());
        }
        List<String> kinds = d.calls.stream().map(FakeDriver.Call::name).distinct().sorted().toList();
        assertEquals(List.of("alloc", "capturing", "copyToDevice", "copyToHost", "fill32", "free", "launch", "release",
                "synchronize"), kinds);
        for (FakeDriver.Call c : d.calls) {
            assertSame(mine, c.current(), c.name() + " issued without the context current");
        }
    }

    @Test
    void twoContextsUsedInTurnOnOneThreadEachIssueUnderTheirOwn() {
        FakeDriver d = new FakeDriver();
        CudaContext a = d.open("a");
        CudaContext b = d.open("b");
        CUcontext ha = handle(a, d);
        CUcontext hb = handle(b, d);
        DeviceBuffer xa = a.floats(4);
        DeviceBuffer xb = b.floats(4);
        xa.upload(new float[4]);
        xb.upload(new float[4]);
        a.launch(KernelName.AXPY, LaunchGeometry.of(1, 32), 1f, xa, xa, 4);
        xb.floats(4);
        xa.close();
        b.sync();
        for (FakeDriver.Call c : d.calls) {
            CUstream s = c.stream();
            if (s == a.stream()) {
                assertSame(ha, c.current(), c.name() + " on a's stream under another context");
            } else if (s == b.stream()) {
                assertSame(hb, c.current(), c.name() + " on b's stream under another context");
            }
        }
        assertSame(ha, d.calls("free").getFirst().current());
    }

    @Test
    void hostCopiesAreOrderedOnTheContextStreamAndWaitForIt() {
        FakeDriver d = new FakeDriver();
        CudaContext ctx = d.open("a");
        DeviceBuffer b = ctx.floats(8);
        d.calls.clear();
        b.floats(8);
        List<String> order = d.calls.stream().map(FakeDriver.Call::name).toList();
        assertEquals(List.of("capturing", "copyToHost", "synchronize"), order);
        for (FakeDriver.Call c : d.calls) {
            assertSame(ctx.stream(), c.stream(), c.name() + " not on the context's stream (the legacy stream no longer orders it)");
        }
        d.calls.clear();
        b.upload(new float[8]);
        assertEquals(List.of("capturing", "copyToDevice", "synchronize"), d.calls.stream().map(FakeDriver.Call::name).toList());
        d.calls.clear();
        b.close();
        assertEquals(List.of("capturing", "synchronize", "free"), d.calls.stream().map(FakeDriver.Call::name).toList(),
                "a free waits for the stream's work that may still read the buffer");
    }

    @Test
    void whileTheStreamIsCapturedOnlyCapturableWorkIsIssued() {
        FakeDriver d = new FakeDriver();
        CudaContext ctx = d.open("a");
        DeviceBuffer b = ctx.floats(8);
        d.calls.clear();
        d.capturing = true;
        ctx.launch(KernelName.AXPY, LaunchGeometry.of(1, 32), 1f, b, b, 8);
        b.poison(DeviceBuffer.POISON_I32);
        for (Runnable r : List.<Runnable>of(() -> b.upload(new float[8]), () -> b.floats(8), () -> b.ints(1),
                () -> ctx.alloc(64), b::close)) {
            IllegalStateException e = assertThrows(io.peregrine.engine.backend.StepCaptureException.class, r::run);
            assertTrue(e.getMessage().contains("captured into a CUDA graph"), e.getMessage());
        }
        assertEquals(List.of("launch", "fill32"), d.calls.stream().map(FakeDriver.Call::name)
                .filter(n -> !n.equals("capturing")).toList(), "only the launch and the stream-ordered fill reach the driver");
        d.capturing = false;
        b.floats(8);
        assertFalse(d.calls("copyToHost").isEmpty());
    }

    @Test
    void viewsShareTheirBuffersContext() {
        FakeDriver d = new FakeDriver();
        CudaContext ctx = d.open("a");
        DeviceBuffer b = ctx.floats(8);
        assertSame(ctx, b.at(16).owner());
        assertEquals(16, b.at(16).bytes());
    }
}
