package io.peregrine.engine.media.video;

import static org.bytedeco.ffmpeg.global.avutil.AV_PIX_FMT_RGB24;
import static org.bytedeco.ffmpeg.global.avutil.AV_PIX_FMT_YUV420P;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.media.MediaInputException;
import io.peregrine.engine.media.MediaInputException.Reason;
import io.peregrine.engine.media.RgbFrame;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Videos written in the test with the same FFmpeg bindings, decoded and checked frame by frame. */
class FfmpegVideoTest {

    private static final VideoProcessorConfig CFG = VideoProcessorConfig.K25;

    @TempDir
    Path dir;

    private static long[] uniformMillis(int n, int fps) {
        long[] pts = new long[n];
        for (int i = 0; i < n; i++) {
            pts[i] = Math.round(i * 1000.0 / fps);
        }
        return pts;
    }

    @Test
    void losslessOddSizeFramesComeBackExactlyInPlanOrder() {
        int w = 33;
        int h = 17;
        byte[] mkv = TestVideos.write(dir.resolve("odd.mkv"), "matroska", "png", AV_PIX_FMT_RGB24, w, h,
                uniformMillis(25, 10), 0, i -> TestVideos.patternFrame(i, w, h));
        try (FfmpegVideo video = FfmpegVideo.open(mkv, "odd.mkv", VideoLimits.DEFAULT)) {
            VideoInfo info = video.info();
            assertEquals(33, info.width());
            assertEquals(17, info.height());
            assertEquals(25, info.numFrames());
            assertEquals(10.0, info.avgFps(), 1e-9);
            assertEquals("png", info.codec());
            SamplingPlan plan = video.plan(CFG);
            assertEquals(List.of(0, 6, 12, 18, 24), plan.frameIndices());
            List<VideoChunk> chunks = video.decodeAll(plan);
            assertEquals(2, chunks.size());
            assertEquals(4, chunks.get(0).frames().size());
            assertEquals(1, chunks.get(1).frames().size());
            // 24 / 10.0 = 2.4 and int((2.4 % 1) * 1000) = 399 in the reference too (binary fractions).
            assertEquals("00:00:02.399" + ChunkPlan.PROMPT_SUFFIX, chunks.get(1).prompt());
            for (VideoChunk chunk : chunks) {
                for (VideoFrame f : chunk.frames()) {
                    assertArrayEquals(TestVideos.patternFrame(f.frameIndex(), w, h), f.image().rgb(),
                            "frame " + f.frameIndex() + " pixels");
                    assertEquals(f.frameIndex() / 10.0, f.ptsSeconds(), 1e-3);
                }
            }
        }
    }

    @Test
    void variableFrameRatePicksFramesByIndexAndKeepsTheirRealTimes() {
        long[] pts = {0, 100, 150, 400, 450, 900, 1000, 1600, 1700, 2500, 2600, 3000};
        byte[] mp4 = TestVideos.write(dir.resolve("vfr.mp4"), "mp4", "mpeg4", AV_PIX_FMT_YUV420P, 64, 48, pts, 0,
                i -> TestVideos.patternFrame(i, 64, 48));
        try (FfmpegVideo video = FfmpegVideo.open(mp4, "vfr.mp4", VideoLimits.DEFAULT)) {
            VideoInfo info = video.info();
            assertEquals(12, info.numFrames());
            SamplingPlan plan = video.plan(CFG);
            // The reference samples by index from (frame count, average fps), whatever the real frame times are.
            assertEquals(FrameSampler.plan(12, info.avgFps(), CFG), plan);
            List<Integer> decoded = new ArrayList<>();
            for (VideoChunk chunk : video.decodeAll(plan)) {
                for (VideoFrame f : chunk.frames()) {
                    decoded.add(f.frameIndex());
                    assertEquals(f.frameIndex(), identify(f.image(), 12), "content of frame " + f.frameIndex());
                    assertEquals(pts[f.frameIndex()] / 1000.0, f.ptsSeconds(), 1e-3, "time of " + f.frameIndex());
                }
            }
            assertEquals(plan.frameIndices(), decoded);
        }
    }

    @Test
    void rotationMetadataTurnsFramesUpright() {
        for (int rotation : new int[] {90, 180, 270}) {
            byte[] mp4 = TestVideos.write(dir.resolve("rot" + rotation + ".mp4"), "mp4", "mpeg4",
                    AV_PIX_FMT_YUV420P, 64, 48, uniformMillis(3, 10), rotation,
                    i -> TestVideos.patternFrame(i, 64, 48));
            try (FfmpegVideo video = FfmpegVideo.open(mp4, "rot.mp4", VideoLimits.DEFAULT)) {
                VideoInfo info = video.info();
                assertEquals(rotation, info.rotationDegrees());
                boolean swap = rotation != 180;
                assertEquals(swap ? 48 : 64, info.width());
                assertEquals(swap ? 64 : 48, info.height());
                RgbFrame img = video.decodeAll(video.plan(CFG)).get(0).frames().get(0).image();
                assertEquals(info.width(), img.width());
                assertEquals(info.height(), img.height());
                // The white marker of the coded top-left corner: 90 -> top-right, 180 -> bottom-right,
                // 270 -> bottom-left.
                int mx = rotation == 270 ? 3 : img.width() - 4;
                int my = rotation == 90 ? 3 : img.height() - 4;
                assertTrue(isWhite(img, mx, my), rotation + ": marker at (" + mx + "," + my + ")");
                assertFalse(isWhite(img, 3, 3) && rotation != 270, rotation + ": no marker top-left");
            }
        }
    }

    @Test
    void videoShorterThanOneChunkGivesOnePartialChunk() {
        byte[] webm = TestVideos.write(dir.resolve("short.webm"), "webm", "libvpx", AV_PIX_FMT_YUV420P, 48, 32,
                uniformMillis(6, 4), 0, i -> TestVideos.patternFrame(i, 48, 32));
        try (FfmpegVideo video = FfmpegVideo.open(webm, "short.webm", VideoLimits.DEFAULT)) {
            assertEquals(6, video.info().numFrames());
            SamplingPlan plan = video.plan(CFG);
            assertEquals(List.of(0, 2, 5), plan.frameIndices());
            List<VideoChunk> chunks = video.decodeAll(plan);
            assertEquals(1, chunks.size());
            assertEquals(3, chunks.get(0).frames().size());
            assertEquals("00:00:00.000" + ChunkPlan.PROMPT_SUFFIX, chunks.get(0).prompt());
            for (VideoFrame f : chunks.get(0).frames()) {
                assertEquals(f.frameIndex(), identify(f.image(), 6));
            }
        }
    }

    @Test
    void streamingDecodesChunkByChunkFromAFile() {
        Path file = dir.resolve("long.mov");
        TestVideos.write(file, "mov", "mpeg4", AV_PIX_FMT_YUV420P, 32, 32, uniformMillis(60, 10), 0,
                i -> TestVideos.patternFrame(i, 32, 32));
        try (FfmpegVideo video = FfmpegVideo.open(file, "long.mov", VideoLimits.DEFAULT)) {
            SamplingPlan plan = video.plan(CFG);
            assertEquals(12, plan.sampledFrames());
            Iterator<VideoChunk> it = video.chunks(plan);
            int n = 0;
            while (it.hasNext()) {
                VideoChunk c = it.next();
                assertEquals(n, c.plan().index());
                for (VideoFrame f : c.frames()) {
                    assertEquals(f.frameIndex(), identify(f.image(), 60));
                }
                n++;
            }
            assertEquals(3, n);
            // Going back to the start re-seeks rather than failing.
            assertEquals(0, video.chunks(plan).next().frames().get(0).frameIndex());
            // The same bytes from memory give the same chunk cache keys; another chunk gets another key.
            try (FfmpegVideo same = FfmpegVideo.open(java.nio.file.Files.readAllBytes(file), "mem", VideoLimits.DEFAULT)) {
                assertEquals(video.chunkKey(plan.chunks().get(1)), same.chunkKey(same.plan(CFG).chunks().get(1)));
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            assertFalse(video.chunkKey(plan.chunks().get(0)).equals(video.chunkKey(plan.chunks().get(1))));
        }
    }

    @Test
    void badInputsAreTypedErrors() {
        VideoLimits lim = VideoLimits.DEFAULT;
        assertReason(Reason.EMPTY, () -> FfmpegVideo.open(new byte[0], "v", lim));
        byte[] noise = new byte[4096];
        new Random(7).nextBytes(noise);
        assertReason(Reason.UNSUPPORTED_FORMAT, () -> FfmpegVideo.open(noise, "v", lim));
        byte[] mp4 = TestVideos.write(dir.resolve("ok.mp4"), "mp4", "mpeg4", AV_PIX_FMT_YUV420P, 32, 32,
                uniformMillis(30, 10), 0, i -> TestVideos.patternFrame(i, 32, 32));
        // The moov atom is at the end: cut it off.
        byte[] cut = Arrays.copyOf(mp4, mp4.length / 2);
        MediaInputException e = assertThrows(MediaInputException.class, () -> FfmpegVideo.open(cut, "v", lim).close());
        assertTrue(e.reason() == Reason.UNSUPPORTED_FORMAT || e.reason() == Reason.CORRUPT, e.getMessage());

        assertReason(Reason.TOO_LARGE, () -> FfmpegVideo.open(mp4, "v", new VideoLimits(100, 1800, 3600, 1 << 24, 1 << 20)));
        assertReason(Reason.TOO_LARGE, () -> FfmpegVideo.open(mp4, "v", new VideoLimits(1 << 24, 1800, 3600, 1000, 1 << 20)));
        assertReason(Reason.TOO_LONG, () -> FfmpegVideo.open(mp4, "v", new VideoLimits(1 << 24, 2.0, 3600, 1 << 24, 1 << 20)));
        try (FfmpegVideo v = FfmpegVideo.open(mp4, "v", new VideoLimits(1 << 24, 1800, 5, 1 << 24, 1 << 20))) {
            assertReason(Reason.TOO_MANY_FRAMES, () -> v.plan(CFG));
        }
        try (FfmpegVideo v = FfmpegVideo.open(mp4, "v", new VideoLimits(1 << 24, 1800, 3600, 1 << 24, 3))) {
            // 30 frames at 10 fps -> 6 sampled -> 2 chunks; 32x32 pads to 56x56 = 4x4 patches = 4 tokens per chunk.
            MediaInputException tokens = assertThrows(MediaInputException.class, () -> v.plan(CFG));
            assertEquals(Reason.TOO_MANY_TOKENS, tokens.reason());
            assertTrue(tokens.getMessage().contains("8 vision tokens"), tokens.getMessage());
        }
    }

    @Test
    void playlistsAndScriptsThatNameOtherFilesAreRefused() throws java.io.IOException {
        // Bytes that would make FFmpeg open a local file (or a URL) named by the client must not be demuxed.
        Path secret = dir.resolve("secret.mp4");
        TestVideos.write(secret, "mp4", "mpeg4", AV_PIX_FMT_YUV420P, 32, 32, uniformMillis(4, 10), 0,
                i -> TestVideos.patternFrame(i, 32, 32));
        // Absolute names for the in-memory case; names relative to the list file for the file case (FFmpeg's
        // own "safe" checks already refuse some absolute paths, relative ones they allow).
        for (String name : new String[] {secret.toString(), "secret.mp4"}) {
            String[] payloads = {
                "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\n" + name + "\n#EXT-X-ENDLIST\n",
                "ffconcat version 1.0\nfile '" + name + "'\n",
            };
            for (String p : payloads) {
                byte[] bytes = p.getBytes(java.nio.charset.StandardCharsets.UTF_8);
                assertReason(Reason.UNSUPPORTED_FORMAT, () -> FfmpegVideo.open(bytes, "v", VideoLimits.DEFAULT).close());
                Path file = dir.resolve("list.txt");
                java.nio.file.Files.write(file, bytes);
                assertReason(Reason.UNSUPPORTED_FORMAT, () -> FfmpegVideo.open(file, "v", VideoLimits.DEFAULT).close());
            }
        }
    }

    @Test
    void damagedPayloadDecodesOrFailsTyped() {
        byte[] mp4 = TestVideos.write(dir.resolve("dmg.mp4"), "mp4", "mpeg4", AV_PIX_FMT_YUV420P, 64, 48,
                uniformMillis(40, 10), 0, i -> TestVideos.patternFrame(i, 64, 48));
        Random rnd = new Random(11);
        for (int trial = 0; trial < 5; trial++) {
            byte[] bad = mp4.clone();
            // Scribble over the middle (packet data; the moov index at the end stays intact).
            for (int k = 0; k < 64; k++) {
                bad[bad.length / 4 + rnd.nextInt(bad.length / 3)] = (byte) rnd.nextInt(256);
            }
            try (FfmpegVideo video = FfmpegVideo.open(bad, "dmg.mp4", VideoLimits.DEFAULT)) {
                List<VideoChunk> chunks = video.decodeAll(video.plan(CFG));
                assertEquals(video.plan(CFG).chunks().size(), chunks.size());
            } catch (MediaInputException e) {
                assertTrue(e.getMessage().startsWith("dmg.mp4: "), e.getMessage());
            }
        }
    }

    @Test
    void seeksSkipWorkBetweenFarApartFrames() {
        // 200 frames at 50 fps, a keyframe every 4: sampling 2 fps takes every 25th frame, so most of the stream
        // is never decoded.
        byte[] mp4 = TestVideos.write(dir.resolve("sparse.mp4"), "mp4", "mpeg4", AV_PIX_FMT_YUV420P, 32, 32,
                uniformMillis(200, 50), 0, i -> TestVideos.patternFrame(i, 32, 32));
        try (FfmpegVideo video = FfmpegVideo.open(mp4, "sparse.mp4", VideoLimits.DEFAULT)) {
            SamplingPlan plan = video.plan(CFG);
            assertEquals(8, plan.sampledFrames());
            for (VideoChunk c : video.decodeAll(plan)) {
                for (VideoFrame f : c.frames()) {
                    assertEquals(f.frameIndex(), identify(f.image(), 200));
                }
            }
            assertTrue(video.framesDecoded() < 60, "decoded " + video.framesDecoded() + " of 200 frames");
            assertTrue(video.seeks() > 1, "seeks " + video.seeks());
        }
    }

    private static void assertReason(Reason reason, org.junit.jupiter.api.function.Executable open) {
        MediaInputException e = assertThrows(MediaInputException.class, () -> {
            open.execute();
        });
        assertEquals(reason, e.reason(), e.getMessage());
    }

    /** The frame index whose pattern colour is nearest to the frame's centre pixel. */
    private static int identify(RgbFrame img, int frames) {
        int cx = img.width() / 2;
        int cy = img.height() / 2;
        int best = -1;
        int bestDist = Integer.MAX_VALUE;
        for (int i = 0; i < frames; i++) {
            int[] c = TestVideos.colourOf(i);
            int d = Math.abs(img.get(cx, cy, 0) - c[0]) + Math.abs(img.get(cx, cy, 1) - c[1])
                    + Math.abs(img.get(cx, cy, 2) - c[2]);
            if (d < bestDist) {
                bestDist = d;
                best = i;
            }
        }
        assertTrue(bestDist < 24, "centre colour too far from any pattern: " + bestDist);
        return best;
    }

    private static boolean isWhite(RgbFrame img, int x, int y) {
        return img.get(x, y, 0) > 200 && img.get(x, y, 1) > 200 && img.get(x, y, 2) > 200;
    }
}
