package io.peregrine.engine.backend.cpu;

import io.peregrine.engine.backend.LinearWeight;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Weight-streaming products on K2.5 shapes: INT4 expert projections (gate/up 2048×7168, down 7168×2048) and BF16
 * attention projections, at 1 token (decode) and a batch of 8. Several copies of each weight are cycled so the
 * working set ({@link #WORKING_SET} bytes) is far larger than the last-level cache: every op streams its weight
 * from memory, as in real decode. Run through {@link BenchMain}, which turns times into GB/s.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class MatmulBench {
    static final long WORKING_SET = 384L << 20;

    /** {@code int4:ROWSxCOLS} or {@code bf16:ROWSxCOLS}. */
    @Param({"int4:2048x7168", "int4:7168x2048", "bf16:1536x7168", "bf16:7168x8192", "bf16:16384x512"})
    public String weight;

    @Param({"1", "8"})
    public int tokens;

    private CpuBackend backend;
    private LinearWeight[] copies;
    private float[] x;
    private float[] y;
    private io.peregrine.engine.backend.HostTensor xt;
    private io.peregrine.engine.backend.HostTensor yt;
    private int next;

    @Setup(Level.Trial)
    public void setup() {
        Shape s = Shape.parse(weight);
        backend = new CpuBackend(Runtime.getRuntime().availableProcessors());
        Random rnd = new Random(1);
        int n = (int) Math.max(2, WORKING_SET / s.bytes());
        copies = new LinearWeight[n];
        for (int i = 0; i < n; i++) {
            copies[i] = s.int4() ? backend.upload(RandomWeights.int4(rnd, s.rows(), s.cols()))
                    : backend.upload(RandomWeights.bf16(rnd, s.rows(), s.cols()));
        }
        x = RandomWeights.floats(rnd, tokens * s.cols());
        y = new float[tokens * s.rows()];
        xt = new io.peregrine.engine.backend.HostTensor(x, 0, tokens, s.cols(), s.cols());
        yt = new io.peregrine.engine.backend.HostTensor(y, 0, tokens, s.rows(), s.rows());
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        backend.close();
    }

    @Benchmark
    public float matmul() {
        LinearWeight w = copies[next];
        next = next + 1 == copies.length ? 0 : next + 1;
        backend.matmul(w, xt, yt);
        return y[0];
    }

    /** A weight parameter: format and shape, and the bytes one product reads. */
    record Shape(boolean int4, int rows, int cols) {
        static Shape parse(String p) {
            String[] kind = p.split(":");
            String[] rc = kind[1].split("x");
            return new Shape(kind[0].equals("int4"), Integer.parseInt(rc[0]), Integer.parseInt(rc[1]));
        }

        long bytes() {
            return int4 ? (long) rows * (cols / 2 + cols / 32 * 2) : (long) rows * cols * 2;
        }
    }
}
