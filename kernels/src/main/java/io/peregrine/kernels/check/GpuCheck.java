package io.peregrine.kernels.check;

import static jcuda.driver.JCudaDriver.cuMemGetInfo;

import io.peregrine.engine.backend.cpu.CpuBackend;
import io.peregrine.kernels.cuda.CudaBackend;
import io.peregrine.kernels.cuda.CudaBackendProvider;
import io.peregrine.kernels.cuda.CudaContext;
import io.peregrine.kernels.cuda.DeviceOps;
import io.peregrine.kernels.cuda.TrafficCounter;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The on-device check, run by {@code scripts/gpu-check.sh}: every kernel against its scalar reference, then timings
 * at K2.5 shapes against the measured ceilings, then a synthetic multi-layer decode step (eager and as a CUDA graph).
 * Exit status 1 when any kernel check fails.
 *
 * <p>Arguments: {@code [--copy-gbs N] [--bf16-tflops N] [--layers N] [--batch N] [--context N] [--seed N]
 * [--checks-only] [--testdata DIR]}; with {@code --testdata} (the repository's {@code testdata/}) the
 * golden tiny checkpoint also runs through the model on {@link CudaBackend}. The ceilings come from the script (PyTorch's copy and matmul); without them the copy ceiling is
 * measured with our own 16-byte copy kernel and the matrix share is left out.
 */
public final class GpuCheck {
    private static final double GIB = 1L << 30;
    /** Left free beside the synthetic decode: graph instantiation, the driver's own allocations, rounding per buffer. */
    static final long DECODE_RESERVE = 2L << 30;

    private GpuCheck() {}

    /** The most layers, at most {@code layers}, whose synthetic decode fits {@code freeBytes} less the reserve. */
    static int decodeLayersThatFit(long freeBytes, int layers, int batch, int context, int multiprocessors) {
        int n = layers;
        while (n > 0 && SyntheticDecode.bytesNeeded(n, batch, context, multiprocessors) > freeBytes - DECODE_RESERVE) {
            n--;
        }
        return n;
    }

    /**
     * Proves, without a device, that the carried runtime and class path hold everything the check loads: the
     * classes of every stage, a host-side expert stack over checkpoint views, a reference product and a plan.
     */
    static void dryRun() {
        for (String c : new String[] {"KernelChecks", "KernelTimings", "SyntheticDecode", "EventTimer", "Perf",
                "GoldenTextCheck", "VisionCheck"}) {
            try {
                Class.forName(GpuCheck.class.getPackageName() + "." + c, true, GpuCheck.class.getClassLoader());
            } catch (ClassNotFoundException e) {
                throw new IllegalStateException("class path incomplete: " + c, e);
            }
        }
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            int rows = 4, cols = 64;
            var packed = arena.allocate(4L * rows * cols / 8);
            var scale = arena.allocate(2L * rows * cols / 32);
            for (int i = 0; i < rows * cols / 32; i++) {
                scale.setAtIndex(io.peregrine.engine.checkpoint.Tensor.BF16, i, (short) 0x3f80);
            }
            var w = new io.peregrine.engine.checkpoint.Int4Group32("dry", rows, cols,
                    new io.peregrine.engine.checkpoint.Tensor("dry.weight_packed", io.peregrine.engine.checkpoint.DType.I32, new long[] {rows, cols / 8}, packed),
                    new io.peregrine.engine.checkpoint.Tensor("dry.weight_scale", io.peregrine.engine.checkpoint.DType.BF16, new long[] {rows, cols / 32}, scale));
            var stack = new io.peregrine.kernels.layout.Int4ExpertStack(1, rows, cols);
            var words = arena.allocate(stack.wordBytes());
            var scales = arena.allocate(stack.scaleBytes());
            stack.write(0, java.util.List.of(w), words, scales, false);
            if (stack.dequant(words, scales, 0, 3, 63) != -8f) {
                throw new IllegalStateException("dry run: stacked zero words should dequantise to -8");
            }
        }
        var plan = io.peregrine.kernels.cuda.Geometries.mlaDecode(64, 8, 4160, 132);
        System.out.println("dry run ok: classes load, expert stack and references run on the CPU; MLA plan " + plan.splits() + " splits");
    }

    /**
     * The golden text check on the CPU backend with the carried runtime: proves the checkpoint, the golden files, JSON
     * and the Vector API all load there before device time is spent, and that the check itself passes the reference.
     */
    static int dryRunGolden(Path testdata) {
        GoldenTextCheck golden = new GoldenTextCheck(testdata.resolve("golden"), System.out);
        VisionCheck vision = new VisionCheck(testdata.resolve("golden"), System.out);
        try (CpuBackend cpu = new CpuBackend(2)) {
            golden.run(cpu);
            StepTraffic.run(testdata.resolve("golden"), cpu, null, System.out);
            vision.golden(cpu, "fp32", VisionCheck.FP32_TOL, false);
            vision.endToEnd(cpu);
        }
        return golden.failures + vision.failures;
    }

    /**
     * The engine's decode step on the device at batch 1, 8 and 32: time, launches, host↔device bytes and
     * synchronisations per step, and the last step's ids beside the CPU backend's (informational: a near tie may
     * differ between fp32 orders).
     */
    static void stepTrafficOnDevice(Path testdata, PrintStream out) {
        if (testdata == null) {
            return;
        }
        TrafficCounter counter = new TrafficCounter();
        int[] gpu;
        try (CudaBackend cuda = CudaBackend.open(0, CudaBackend.Options.FP32, counter)) {
            gpu = StepTraffic.run(testdata.resolve("golden"), cuda, counter, out);
        }
        int[] cpu;
        try (CpuBackend b = new CpuBackend(Math.max(1, Runtime.getRuntime().availableProcessors() - 1))) {
            cpu = StepTraffic.run(testdata.resolve("golden"), b, null, new PrintStream(OutputStream.nullOutputStream()));
        }
        int same = 0;
        for (int i = 0; i < gpu.length; i++) {
            same += gpu[i] == cpu[i] ? 1 : 0;
        }
        out.printf("decode step ids after %d steps at batch %d: %d of %d equal to the CPU backend's%n",
                2 + StepTraffic.STEPS, gpu.length, same, gpu.length);
    }

    /**
     * The golden tiny checkpoint through the model on {@link CudaBackend} (every operation of the backend is checked
     * against scalar references by the engine's BackendContractTest, which runs CUDA where JUnit has a device).
     * Returns the failures.
     */
    static int goldenOnDevice(Path testdata, PrintStream out) {
        if (testdata == null) {
            out.println("golden text check skipped: no --testdata");
            return 0;
        }
        try (CudaBackend fp32 = CudaBackend.open(0, new CudaBackend.Options(0, true))) {
            GoldenTextCheck g = new GoldenTextCheck(testdata.resolve("golden"), out);
            long t0 = System.nanoTime();
            g.run(fp32);
            out.printf("golden text on %s: %d of %d cases passed, worst row at %.3f of the tolerance (%.1f s)%n",
                    fp32.name(), g.checks - g.failures, g.checks, g.worstShare, (System.nanoTime() - t0) / 1e9);
            return g.failures;
        }
    }

    /**
     * The vision tower on the device against vision-golden: fp32 products within 1e-4, tensor-core products within
     * {@value VisionCheck#BF16_SHARE} of the golden's magnitude; batched = alone; device = CPU backend. Returns the
     * failures.
     */
    static int visionOnDevice(Path testdata, PrintStream out) {
        if (testdata == null) {
            return 0;
        }
        VisionCheck v = new VisionCheck(testdata.resolve("golden"), out);
        long t0 = System.nanoTime();
        try (CudaBackend fp32 = CudaBackend.open(0, CudaBackend.Options.FP32)) {
            v.golden(fp32, "fp32 products", VisionCheck.FP32_TOL, false);
            v.endToEnd(fp32);
        }
        try (CudaBackend tc = CudaBackend.open(0, new CudaBackend.Options(1, false))) {
            v.golden(tc, "bf16 tensor-core products", VisionCheck.BF16_SHARE, true);
        }
        out.printf("vision golden on the device: %d of %d checks passed (%.1f s)%n", v.checks - v.failures, v.checks,
                (System.nanoTime() - t0) / 1e9);
        return v.failures;
    }

    public static void main(String[] args) {
        double copy = -1;
        double tflops = -1;
        int layers = 6;
        int batch = 8;
        int context = 4096;
        long seed = System.nanoTime();
        boolean checksOnly = false;
        Path testdata = null;
        boolean dry = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--copy-gbs" -> copy = Double.parseDouble(args[++i]);
                case "--bf16-tflops" -> tflops = Double.parseDouble(args[++i]);
                case "--layers" -> layers = Integer.parseInt(args[++i]);
                case "--batch" -> batch = Integer.parseInt(args[++i]);
                case "--context" -> context = Integer.parseInt(args[++i]);
                case "--seed" -> seed = Long.parseLong(args[++i]);
                case "--checks-only" -> checksOnly = true;
                case "--testdata" -> testdata = Path.of(args[++i]);
                case "--dry-run" -> dry = true;
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        if (dry) {
            dryRun();
            if (testdata != null) {
                System.exit(dryRunGolden(testdata) == 0 ? 0 : 1);
            }
            return;
        }
        PrintStream out = System.out;
        Optional<String> unavailable = new CudaBackendProvider().unavailableReason();
        if (unavailable.isPresent()) {
            // one line instead of JCuda's nested load traces: the usual cause is running this off the device
            System.err.println("gpu-check: cannot run here: " + unavailable.get());
            System.exit(2);
        }
        int failures;
        try (CudaContext ctx = CudaContext.open(0)) {
            out.printf("device %s, %d SMs, module from the %s; seed %d%n", ctx.deviceName(), ctx.multiprocessors(), ctx.loadedFrom(), seed);
            DeviceOps ops = new DeviceOps(ctx);
            KernelChecks checks = new KernelChecks(ops, seed, out);
            checks.runAll();
            failures = checks.failures;
            out.printf("kernel checks: %d of %d passed%n", checks.checks - failures, checks.checks);
            failures += goldenOnDevice(testdata, out);
            failures += visionOnDevice(testdata, out);
            stepTrafficOnDevice(testdata, out);
            if (!checksOnly) {
                double ownCopy = new KernelTimings(ops, seed).copyGBs();
                out.printf("own 16-byte copy kernel: %.0f GB/s (read+write)%n", ownCopy);
                Perf perf = new Perf(copy > 0 ? copy : ownCopy, tflops);
                new KernelTimings(ops, seed).run(perf);
                try (CudaBackend vision = CudaBackend.open(0, new CudaBackend.Options(64, false))) {
                    VisionCheck.throughput(vision, "tensor-core products from 64 rows", VisionCheck.ALL_SIZES, tflops,
                            seed, out);
                }
                try (CudaBackend vision = CudaBackend.open(0, CudaBackend.Options.FP32)) {
                    VisionCheck.throughput(vision, "fp32 products, serve's default", VisionCheck.FP32_SIZES, tflops,
                            seed, out);
                }
                // Every earlier stage has freed its buffers (each frees in a finally); the decode sizes itself to what
                // is free, so a device with less memory than it was written for runs fewer layers instead of failing.
                long[] free = new long[1];
                long[] total = new long[1];
                ctx.makeCurrent();
                cuMemGetInfo(free, total);
                int fit = decodeLayersThatFit(free[0], layers, batch, context, ctx.multiprocessors());
                out.printf("device memory before the synthetic decode: %.1f of %.1f GiB free; %d layers need %.1f GiB%n",
                        free[0] / GIB, total[0] / GIB, layers, SyntheticDecode.bytesNeeded(layers, batch, context, ctx.multiprocessors()) / GIB);
                if (fit < layers) {
                    out.printf("synthetic decode: %d of %d layers fit (keeping %.0f GiB in reserve)%n", fit, layers, DECODE_RESERVE / GIB);
                }
                if (fit >= 1) {
                    new SyntheticDecode(ops, seed, fit, batch, context).run(perf, out);
                }
                perf.print(out);
            }
        }
        System.exit(failures == 0 ? 0 : 1);
    }
}
