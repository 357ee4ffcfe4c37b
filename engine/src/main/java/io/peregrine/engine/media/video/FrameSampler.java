package io.peregrine.engine.media.video;

import java.util.ArrayList;
import java.util.List;

/**
 * The K2.5 frame sampling and chunking ({@code KimiK25VisionProcessor.split_video_chunks}, spec §4.3), computed
 * from the container's (frame count, average fps) alone, so the plan (and the prompt's token count) is known
 * before any frame is decoded.
 */
public final class FrameSampler {
    private FrameSampler() {}

    public static SamplingPlan plan(int numFrames, double fps, VideoProcessorConfig cfg) {
        if (numFrames < 1) {
            throw new IllegalArgumentException("a video needs at least one frame, got " + numFrames);
        }
        if (!(fps > 0) || Double.isInfinite(fps)) {
            throw new IllegalArgumentException("video fps must be positive and finite, got " + fps);
        }
        double sampleFps = Math.min(cfg.sampleFps(), fps);
        // Python round() on a float is half-even; Math.rint is too. Same operation order as the reference.
        int n = (int) Math.max(Math.rint(numFrames * sampleFps / fps), 1);
        int[] inds = linspaceRounded(numFrames - 1, n);
        int k = cfg.temporalMergeKernelSize();
        List<ChunkPlan> chunks = new ArrayList<>();
        for (int i = 0; i < inds.length; i += k) {
            List<Integer> members = new ArrayList<>();
            for (int j = i; j < Math.min(i + k, inds.length); j++) {
                members.add(inds[j]);
            }
            double start = inds[i] / fps;
            chunks.add(new ChunkPlan(chunks.size(), members, start, cfg.timestampMode().format(start)));
        }
        return new SamplingPlan(numFrames, fps, chunks);
    }

    /**
     * {@code np.linspace(0, stop, n).round().astype(int)}: numpy computes {@code i * (stop / (n - 1))} and then sets
     * the last element to stop exactly; {@code round} is half-even.
     */
    static int[] linspaceRounded(int stop, int n) {
        int[] out = new int[n];
        if (n == 1) {
            return out;
        }
        double step = (double) stop / (n - 1);
        for (int i = 0; i < n; i++) {
            out[i] = (int) Math.rint(step == 0 ? (double) i / (n - 1) * stop : i * step);
        }
        out[n - 1] = stop;
        return out;
    }
}
