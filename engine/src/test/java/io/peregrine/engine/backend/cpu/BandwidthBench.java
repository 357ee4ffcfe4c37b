package io.peregrine.engine.backend.cpu;

import static io.peregrine.engine.backend.cpu.VectorMath.I;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The memory-read bandwidth probe the product figures are compared with: all cores sum a {@link #BYTES} int array
 * (far larger than cache) with the same pool and vector width as the kernels. The ceiling for a kernel that
 * streams its weights once.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class BandwidthBench {
    static final long BYTES = 512L << 20;

    private ComputePool pool;
    private int[] data;

    @Setup(Level.Trial)
    public void setup() {
        pool = new ComputePool(Runtime.getRuntime().availableProcessors());
        data = new int[(int) (BYTES / 4)];
        for (int i = 0; i < data.length; i += 1024) {
            data[i] = i;
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        pool.close();
    }

    @Benchmark
    public long readAll() {
        AtomicLong total = new AtomicLong();
        int chunk = 1 << 16;
        pool.parallelFor(data.length / chunk, 1, (lo, hi) -> {
            IntVector acc = IntVector.zero(I);
            for (int i = lo * chunk; i < hi * chunk; i += I.length()) {
                acc = acc.add(IntVector.fromArray(I, data, i));
            }
            total.addAndGet(acc.reduceLanes(VectorOperators.ADD));
        });
        return total.get();
    }
}
