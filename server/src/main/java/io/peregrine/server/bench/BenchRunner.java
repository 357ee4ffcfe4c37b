package io.peregrine.server.bench;

import java.io.IOException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.locks.LockSupport;

/**
 * One benchmark run: sends the prompts on the arrival schedule (at most {@code maxConcurrency} in flight),
 * some of them as faults, measures them, and afterwards checks through /metrics that the server went idle.
 */
public final class BenchRunner {

    /** @param idle null when the idle check was not asked for */
    public record Report(BenchOptions options, int requests, BenchResult result, IdleCheck.Verdict idle) {
        /** The run passes when the idle check (if any) passed and, if asked, nothing failed unexpectedly. */
        public boolean passed(boolean failOnErrors) {
            return (idle == null || idle.idle()) && (!failOnErrors || result.unexpectedFailures() == 0);
        }
    }

    private BenchRunner() {}

    public static Report run(BenchOptions options, List<BenchPrompt> prompts, PrintWriter progressOut,
                             Duration progressInterval, boolean progressInPlace)
            throws IOException, InterruptedException {
        return run(options, prompts, progressOut, progressInterval, progressInPlace, Ticker.SYSTEM);
    }

    /**
     * As above, timing requests and the run's duration with {@code ticker}. Arrivals, timeouts, progress and
     * the idle check keep to wall-clock time.
     */
    public static Report run(BenchOptions options, List<BenchPrompt> prompts, PrintWriter progressOut,
                             Duration progressInterval, boolean progressInPlace, Ticker ticker)
            throws IOException, InterruptedException {
        try (HttpBenchClient http = new HttpBenchClient(options, ticker)) {
            BenchOptions opts = options.model() != null ? options : options.withModel(http.firstModel());
            ServerLoad before = opts.checkMetrics() ? ServerLoad.parse(http.get(opts.metricsPath())) : null;
            int n = prompts.size();
            Fault[] faults = Fault.plan(n, opts.disconnectRate(), opts.malformedRate(), opts.slowReaderRate(),
                    opts.seed());
            long[] offsets = Arrivals.offsetsNanos(n, opts.requestRate(), opts.burstiness(), opts.seed());
            RequestBodies bodies = new RequestBodies(opts);
            FaultClient faultClient = opts.faultMode() ? new FaultClient(opts) : null;
            Semaphore slots = new Semaphore(opts.maxConcurrency() > 0 ? opts.maxConcurrency() : Integer.MAX_VALUE);
            RequestOutcome[] outcomes = new RequestOutcome[n];
            long start;
            long end;
            try (Progress progress = new Progress(progressOut, n, progressInterval, progressInPlace);
                 ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
                start = ticker.nanoTime();
                long wallStart = System.nanoTime();
                for (int i = 0; i < n; i++) {
                    sleepUntil(wallStart + offsets[i]);
                    int index = i;
                    pool.submit(() -> {
                        slots.acquireUninterruptibly();
                        try {
                            String body = bodies.body(prompts.get(index), index);
                            RequestOutcome o = faults[index] == Fault.NONE
                                    ? http.send(index, prompts.get(index), body)
                                    : faultClient.send(index, faults[index], body);
                            outcomes[index] = o;
                            progress.finished(o.success());
                        } catch (RuntimeException e) {
                            outcomes[index] = RequestOutcome.failed(index, faults[index], e.toString());
                            progress.finished(false);
                        } finally {
                            slots.release();
                        }
                    });
                }
                pool.shutdown();
                pool.close();
                end = ticker.nanoTime();
            }
            BenchResult result = BenchMetrics.compute(Arrays.asList(outcomes), end - start);
            IdleCheck.Verdict idle = before == null ? null
                    : IdleCheck.await(() -> http.get(opts.metricsPath()), before, opts.idleTimeout(),
                            opts.kvTolerance());
            return new Report(opts, n, result, idle);
        }
    }

    private static void sleepUntil(long nanoTime) throws InterruptedException {
        long left;
        while ((left = nanoTime - System.nanoTime()) > 0) {
            LockSupport.parkNanos(left);
            if (Thread.interrupted()) {
                throw new InterruptedException();
            }
        }
    }
}
