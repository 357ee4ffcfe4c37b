package io.peregrine.kernels.check;

import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventElapsedTime;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;

import io.peregrine.kernels.cuda.CudaContext;
import java.util.Arrays;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;

/** Times device work with CUDA events around each run, after warm-up runs; reports the median in microseconds. */
final class EventTimer {
    private final CudaContext ctx;

    EventTimer(CudaContext ctx) {
        this.ctx = ctx;
    }

    /** {@code work.run(i)} issues run {@code i}'s launches (rotate inputs with {@code i} to stay out of L2). */
    double medianMicros(int warmup, int runs, java.util.function.IntConsumer work) {
        ctx.makeCurrent();  // the event calls below act on the calling thread's current context
        for (int i = 0; i < warmup; i++) {
            work.accept(i);
        }
        ctx.sync();
        CUevent[] start = new CUevent[runs];
        CUevent[] stop = new CUevent[runs];
        for (int i = 0; i < runs; i++) {
            start[i] = new CUevent();
            stop[i] = new CUevent();
            cuEventCreate(start[i], CUevent_flags.CU_EVENT_DEFAULT);
            cuEventCreate(stop[i], CUevent_flags.CU_EVENT_DEFAULT);
        }
        for (int i = 0; i < runs; i++) {
            cuEventRecord(start[i], ctx.stream());
            work.accept(warmup + i);
            cuEventRecord(stop[i], ctx.stream());
        }
        double[] us = new double[runs];
        float[] ms = new float[1];
        for (int i = 0; i < runs; i++) {
            cuEventSynchronize(stop[i]);
            cuEventElapsedTime(ms, start[i], stop[i]);
            us[i] = ms[0] * 1000.0;
            cuEventDestroy(start[i]);
            cuEventDestroy(stop[i]);
        }
        Arrays.sort(us);
        return us[runs / 2];
    }
}
