package io.peregrine.engine.media.video;

import static org.bytedeco.ffmpeg.global.avutil.AV_PIX_FMT_YUV420P;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;

/**
 * Benchmark, not a test: a 720p H.264 video (default one minute at 30 fps, keyframe every 2 s) is written with
 * FFmpeg's OpenH264 encoder, then opened from memory (container probe + packet index), sampled with the K2.5 plan
 * (2 fps, chunks of 4) and decoded chunk by chunk to upright RGB. What it measures is this package only: decode and
 * sampling. The request-to-first-token split (preprocess, tower, prefill) needs the vision pipeline and the model.
 * Arguments: [seconds, default 60] [fps, default 30] [gop frames, default 60] [runs, default 3].
 * Run (from the repository root, after {@code mvn -o -q -pl engine -am test-compile}):
 * <pre>
 * mvn -o -q -pl engine dependency:build-classpath -Dmdep.outputFile=/tmp/cp.txt -Dmdep.includeScope=test
 * java --enable-native-access=ALL-UNNAMED -cp engine/target/test-classes:engine/target/classes:$(cat /tmp/cp.txt) \
 *   io.peregrine.engine.media.video.VideoBenchmark 60 30 60 3
 * </pre>
 */
public final class VideoBenchmark {
    private VideoBenchmark() {}

    public static void main(String[] args) throws Exception {
        int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 60;
        int fps = args.length > 1 ? Integer.parseInt(args[1]) : 30;
        int gop = args.length > 2 ? Integer.parseInt(args[2]) : 60;
        int runs = args.length > 3 ? Integer.parseInt(args[3]) : 3;
        int w = 1280;
        int h = 720;
        int n = seconds * fps;
        System.out.printf("cores %d, java %s%n", Runtime.getRuntime().availableProcessors(), Runtime.version());
        Path dir = Files.createTempDirectory("peregrine-video-bench");
        Path file = dir.resolve("bench.mp4");
        long[] pts = new long[n];
        for (int i = 0; i < n; i++) {
            pts[i] = Math.round(i * 1000.0 / fps);
        }
        long t0 = System.nanoTime();
        byte[] mp4 = TestVideos.writeWithGop(file, "mp4", "libopenh264", AV_PIX_FMT_YUV420P, w, h, pts, gop,
                i -> movingPattern(i, w, h));
        System.out.printf("wrote %d s of %dx%d H.264 (%d frames, gop %d): %.1f MB in %.1f s (not part of the timing)%n",
                seconds, w, h, n, gop, mp4.length / 1e6, (System.nanoTime() - t0) / 1e9);
        for (int run = 0; run < runs; run++) {
            long a = System.nanoTime();
            try (FfmpegVideo video = FfmpegVideo.open(mp4, "bench.mp4", VideoLimits.DEFAULT)) {
                long b = System.nanoTime();
                SamplingPlan plan = video.plan(VideoProcessorConfig.K25);
                long c = System.nanoTime();
                Iterator<VideoChunk> it = video.chunks(plan);
                long firstChunk = 0;
                int frames = 0;
                int chunks = 0;
                while (it.hasNext()) {
                    VideoChunk chunk = it.next();
                    if (chunks == 0) {
                        firstChunk = System.nanoTime();
                    }
                    chunks++;
                    frames += chunk.frames().size();
                }
                long d = System.nanoTime();
                System.out.printf("run %d: open+index %.1f ms, plan %.2f ms (%d chunks, %d frames, %d tokens), "
                                + "first chunk after %.1f ms, all chunks %.1f ms (%.1f sampled frames/s, %.2f ms per "
                                + "video second), total %.1f ms; decoder produced %d frames, %d seeks%n",
                        run, (b - a) / 1e6, (c - b) / 1e6, chunks, frames,
                        video.visionTokens(plan, VideoProcessorConfig.K25), (firstChunk - a) / 1e6, (d - c) / 1e6,
                        frames / ((d - c) / 1e9), (d - a) / 1e6 / seconds, (d - a) / 1e6, video.framesDecoded(),
                        video.seeks());
            }
        }
        Files.deleteIfExists(file);
        Files.deleteIfExists(dir);
    }

    /** Gradients that move every frame, so inter-frame coding has real work. */
    private static byte[] movingPattern(int i, int w, int h) {
        byte[] rgb = new byte[w * h * 3];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int o = (y * w + x) * 3;
                rgb[o] = (byte) (x + 3 * i);
                rgb[o + 1] = (byte) (y + 2 * i);
                rgb[o + 2] = (byte) ((x ^ y) + i);
            }
        }
        return rgb;
    }
}
