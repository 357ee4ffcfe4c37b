package io.peregrine.engine.backend.cpu;

import io.peregrine.engine.model.DecodeStepBench;
import java.util.Collection;
import java.util.Locale;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Runs the bandwidth probe and the product benchmarks in one JMH session (one fork each, short iterations:
 * the build machine has two shared cores) and prints GB/s of weight bytes next to the probe's GB/s.
 * Arguments: an optional benchmark regex (default: all of this package's benchmarks).
 */
public final class BenchMain {
    private BenchMain() {}

    public static void main(String[] args) throws RunnerException {
        String include = args.length > 0 ? args[0] : "io.peregrine.engine.(backend.cpu.BandwidthBench|backend.cpu.MatmulBench|model.DecodeStepBench)";
        Options opts = new OptionsBuilder().include(include).forks(1)
                .warmupIterations(3).warmupTime(TimeValue.seconds(1))
                .measurementIterations(3).measurementTime(TimeValue.seconds(1))
                .jvmArgsAppend("--add-modules", "jdk.incubator.vector", "-Xmx4g", "-XX:+UseParallelGC")
                .build();
        Collection<RunResult> results = new Runner(opts).run();
        double probe = Double.NaN;
        for (RunResult r : results) {
            if (r.getParams().getBenchmark().endsWith("readAll")) {
                probe = BandwidthBench.BYTES / (r.getPrimaryResult().getScore() * 1e-6) / 1e9;
            }
        }
        System.out.printf(Locale.ROOT, "%nthreads %d, vector %d bits%n", Runtime.getRuntime().availableProcessors(),
                VectorMath.F.vectorBitSize());
        System.out.printf(Locale.ROOT, "%-22s %6s %12s %9s %9s%n", "weight", "tokens", "us/op", "GB/s", "of probe");
        System.out.printf(Locale.ROOT, "%-22s %6s %12s %9.2f %9s%n", "read-bandwidth probe", "-", "-", probe, "100%");
        for (RunResult r : results) {
            String w = r.getParams().getParam("weight");
            if (r.getParams().getBenchmark().endsWith("decodeStep")) {
                double us = r.getPrimaryResult().getScore();
                double gbs = DecodeStepBench.activeBytes() / (us * 1e-6) / 1e9;
                System.out.printf(Locale.ROOT, "%-22s %6s %12.1f %9.2f %8.0f%%   (%.1f tokens/s, %.0f MB active weights/token)%n",
                        "decode step (synthetic)", "1", us, gbs, 100 * gbs / probe, 1e6 / us, DecodeStepBench.activeBytes() / 1e6);
                continue;
            }
            if (w == null) {
                continue;
            }
            double us = r.getPrimaryResult().getScore();
            double gbs = MatmulBench.Shape.parse(w).bytes() / (us * 1e-6) / 1e9;
            System.out.printf(Locale.ROOT, "%-22s %6s %12.1f %9.2f %8.0f%%%n", w, r.getParams().getParam("tokens"), us, gbs,
                    100 * gbs / probe);
        }
    }
}
