package io.peregrine.kernels.check;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;

/** The timing table: each row's median time and what it moved or computed, against the measured ceilings. */
final class Perf {
    record Row(String what, double micros, double bytes, double flops, String ceiling) {}

    private final List<Row> rows = new ArrayList<>();
    private final double copyGBs;
    private final double matTFlops;

    Perf(double copyGBs, double matTFlops) {
        this.copyGBs = copyGBs;
        this.matTFlops = matTFlops;
    }

    void memoryBound(String what, double micros, double bytes) {
        rows.add(new Row(what, micros, bytes, 0, "copy"));
    }

    void computeBound(String what, double micros, double flops) {
        rows.add(new Row(what, micros, 0, flops, "bf16 mma"));
    }

    void latency(String what, double micros) {
        rows.add(new Row(what, micros, 0, 0, "-"));
    }

    void print(PrintStream out) {
        out.printf("%n| kernel | median µs | achieved | of ceiling |%n|---|---:|---:|---:|%n");
        for (Row r : rows) {
            String achieved;
            String share;
            if (r.bytes() > 0) {
                double gbs = r.bytes() / (r.micros() * 1e3);
                achieved = String.format("%.0f GB/s", gbs);
                share = copyGBs > 0 ? String.format("%.0f%% of copy", 100 * gbs / copyGBs) : "n/a";
            } else if (r.flops() > 0) {
                double tf = r.flops() / (r.micros() * 1e6);
                achieved = String.format("%.1f TFLOP/s", tf);
                share = matTFlops > 0 ? String.format("%.0f%% of bf16", 100 * tf / matTFlops) : "n/a";
            } else {
                achieved = "-";
                share = "-";
            }
            out.printf("| %s | %.1f | %s | %s |%n", r.what(), r.micros(), achieved, share);
        }
        out.printf("%nceilings: copy %.0f GB/s (read+write), bf16 matrix %.0f TFLOP/s%n", copyGBs, matTFlops);
    }
}
