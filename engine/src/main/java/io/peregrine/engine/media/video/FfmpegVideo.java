package io.peregrine.engine.media.video;

import static org.bytedeco.ffmpeg.global.avcodec.AV_PKT_DATA_DISPLAYMATRIX;
import static org.bytedeco.ffmpeg.global.avcodec.AV_PKT_FLAG_KEY;
import static org.bytedeco.ffmpeg.global.avcodec.av_packet_alloc;
import static org.bytedeco.ffmpeg.global.avcodec.av_packet_free;
import static org.bytedeco.ffmpeg.global.avcodec.av_packet_side_data_get;
import static org.bytedeco.ffmpeg.global.avcodec.av_packet_unref;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_alloc_context3;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_find_decoder;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_flush_buffers;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_free_context;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_open2;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_parameters_to_context;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_receive_frame;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_send_packet;
import static org.bytedeco.ffmpeg.global.avformat.AVSEEK_FLAG_BACKWARD;
import static org.bytedeco.ffmpeg.global.avformat.av_find_best_stream;
import static org.bytedeco.ffmpeg.global.avformat.av_read_frame;
import static org.bytedeco.ffmpeg.global.avformat.av_seek_frame;
import static org.bytedeco.ffmpeg.global.avformat.avformat_alloc_context;
import static org.bytedeco.ffmpeg.global.avformat.avformat_close_input;
import static org.bytedeco.ffmpeg.global.avformat.avformat_find_stream_info;
import static org.bytedeco.ffmpeg.global.avformat.avformat_open_input;
import static org.bytedeco.ffmpeg.global.avutil.AVCOL_RANGE_JPEG;
import static org.bytedeco.ffmpeg.global.avutil.AVCOL_SPC_UNSPECIFIED;
import static org.bytedeco.ffmpeg.global.avutil.AVERROR_EAGAIN;
import static org.bytedeco.ffmpeg.global.avutil.AVERROR_EOF;
import static org.bytedeco.ffmpeg.global.avutil.AVERROR_INVALIDDATA;
import static org.bytedeco.ffmpeg.global.avutil.AVMEDIA_TYPE_VIDEO;
import static org.bytedeco.ffmpeg.global.avutil.AV_LOG_ERROR;
import static org.bytedeco.ffmpeg.global.avutil.AV_NOPTS_VALUE;
import static org.bytedeco.ffmpeg.global.avutil.AV_PIX_FMT_RGB24;
import static org.bytedeco.ffmpeg.global.avutil.av_dict_free;
import static org.bytedeco.ffmpeg.global.avutil.av_dict_set;
import static org.bytedeco.ffmpeg.global.avutil.av_display_rotation_get;
import static org.bytedeco.ffmpeg.global.avutil.av_frame_alloc;
import static org.bytedeco.ffmpeg.global.avutil.av_frame_free;
import static org.bytedeco.ffmpeg.global.avutil.av_frame_unref;
import static org.bytedeco.ffmpeg.global.avutil.av_log_set_level;
import static org.bytedeco.ffmpeg.global.avutil.av_strerror;
import static org.bytedeco.ffmpeg.global.swscale.SWS_ACCURATE_RND;
import static org.bytedeco.ffmpeg.global.swscale.SWS_BICUBIC;
import static org.bytedeco.ffmpeg.global.swscale.SWS_CS_DEFAULT;
import static org.bytedeco.ffmpeg.global.swscale.SWS_FULL_CHR_H_INT;
import static org.bytedeco.ffmpeg.global.swscale.sws_freeContext;
import static org.bytedeco.ffmpeg.global.swscale.sws_getCachedContext;
import static org.bytedeco.ffmpeg.global.swscale.sws_getCoefficients;
import static org.bytedeco.ffmpeg.global.swscale.sws_scale;
import static org.bytedeco.ffmpeg.global.swscale.sws_setColorspaceDetails;

import io.peregrine.engine.media.MediaInputException;
import io.peregrine.engine.media.MediaInputException.Reason;
import io.peregrine.engine.media.RgbFrame;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import org.bytedeco.ffmpeg.avcodec.AVCodec;
import org.bytedeco.ffmpeg.avcodec.AVCodecContext;
import org.bytedeco.ffmpeg.avcodec.AVCodecParameters;
import org.bytedeco.ffmpeg.avcodec.AVPacket;
import org.bytedeco.ffmpeg.avcodec.AVPacketSideData;
import org.bytedeco.ffmpeg.avformat.AVFormatContext;
import org.bytedeco.ffmpeg.avformat.AVStream;
import org.bytedeco.ffmpeg.avutil.AVDictionary;
import org.bytedeco.ffmpeg.avutil.AVFrame;
import org.bytedeco.ffmpeg.avutil.AVRational;
import org.bytedeco.ffmpeg.swscale.SwsContext;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.PointerPointer;

/**
 * One video opened with FFmpeg (in process, through bytedeco's JavaCPP bindings): its header, the K2.5 sampling
 * plan, and the sampled frames decoded chunk by chunk.
 *
 * <p>Opening reads every packet header once (no decoding) to build a frame index: the presentation times of all
 * frames, in order, and which are keyframes. The reference reads frames by index from (frame count, average fps),
 * so frame {@code i} here is the i-th frame in presentation order, for variable frame rates too. Decoding then
 * seeks to the last keyframe before a wanted frame whenever that skips work, and converts only wanted frames to
 * RGB. Only the frames of the chunk being decoded are held, so memory stays bounded for long videos.
 *
 * <p>Not thread-safe: one request owns one instance and closes it.
 */
public final class FfmpegVideo implements AutoCloseable {

    /** avformat.h AVFMT_FLAG_CUSTOM_IO (the preset does not export it): the caller owns the AVIOContext. */
    private static final int AVFMT_FLAG_CUSTOM_IO = 0x0080;
    /** Demuxers accepted: MP4/MOV (and 3GP), Matroska/WebM, AVI, MPEG-TS. */
    static final String CONTAINERS = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,mpegts";

    /** packet.h AV_PKT_FLAG_DISCARD. */
    private static final int AV_PKT_FLAG_DISCARD = 0x0004;

    static {
        av_log_set_level(AV_LOG_ERROR);
    }

    private final String source;
    private final VideoLimits limits;
    private final MemoryAvio memory;
    private final byte[] bytes;
    private final Path file;
    private String contentSha256;
    private AVFormatContext format;
    private final AVStream stream;
    private final int streamIndex;
    private final AVCodecContext decoder;
    private final long[] sortedPts;
    private final int[] keyframeIndices;
    private final VideoInfo info;
    private final int rotation;

    private final AVPacket packet = av_packet_alloc();
    private final AVFrame frame = av_frame_alloc();
    private SwsContext sws;
    private boolean demuxerDone;
    private boolean decoderDrained;
    private int lastIndex = -1;
    private long framesDecoded;
    private int seeks;
    private boolean closed;

    /** Opens a video held in memory (a decoded data URL). {@code source} names it in error messages. */
    public static FfmpegVideo open(byte[] bytes, String source, VideoLimits limits) {
        if (bytes == null || bytes.length == 0) {
            throw new MediaInputException(Reason.EMPTY, source + ": the video is empty");
        }
        if (bytes.length > limits.maxBytes()) {
            throw new MediaInputException(Reason.TOO_LARGE, source + ": the video is " + bytes.length
                    + " bytes; the limit is " + limits.maxBytes());
        }
        MemoryAvio memory = new MemoryAvio(bytes);
        try {
            return new FfmpegVideo(null, bytes, memory, source, limits);
        } catch (RuntimeException | Error e) {
            memory.close();
            throw e;
        }
    }

    /** Opens a local video file. */
    public static FfmpegVideo open(Path file, String source, VideoLimits limits) {
        long size;
        try {
            size = Files.size(file);
        } catch (IOException e) {
            throw new MediaInputException(Reason.UNSUPPORTED_FORMAT, source + ": cannot read " + file + ": " + e, e);
        }
        if (size == 0) {
            throw new MediaInputException(Reason.EMPTY, source + ": the video file is empty");
        }
        if (size > limits.maxBytes()) {
            throw new MediaInputException(Reason.TOO_LARGE, source + ": the video is " + size
                    + " bytes; the limit is " + limits.maxBytes());
        }
        return new FfmpegVideo(file.toAbsolutePath(), null, null, source, limits);
    }

    private FfmpegVideo(Path file, byte[] bytes, MemoryAvio memory, String source, VideoLimits limits) {
        this.source = source;
        this.limits = limits;
        this.memory = memory;
        this.bytes = bytes;
        this.file = file;
        String path = file == null ? null : file.toString();
        AVFormatContext fmt = avformat_alloc_context();
        if (memory != null) {
            fmt.pb(memory.context());
            fmt.flags(fmt.flags() | AVFMT_FLAG_CUSTOM_IO);
        }
        // Only plain container demuxers: playlist and script demuxers (HLS, DASH, concat, image sequences) would
        // open further URLs or local files named inside client-supplied bytes. No nested protocol opens at all,
        // except the file itself for a path input.
        AVDictionary options = new AVDictionary(null);
        av_dict_set(options, "format_whitelist", CONTAINERS, 0);
        av_dict_set(options, "protocol_whitelist", path == null ? "none" : "file", 0);
        int ret = avformat_open_input(fmt, path, null, options);
        av_dict_free(options);
        if (ret < 0) {
            // avformat_open_input frees the context on failure
            freeNative();
            throw new MediaInputException(Reason.UNSUPPORTED_FORMAT,
                    source + ": not a video container FFmpeg can read (" + error(ret) + ")");
        }
        this.format = fmt;
        try {
            ret = avformat_find_stream_info(fmt, (PointerPointer<?>) null);
            if (ret < 0) {
                throw new MediaInputException(Reason.CORRUPT, source + ": cannot read the stream info ("
                        + error(ret) + ")");
            }
            streamIndex = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, (AVCodec) null, 0);
            if (streamIndex < 0) {
                throw new MediaInputException(Reason.UNSUPPORTED_CODEC, source + ": the file has no video stream");
            }
            stream = fmt.streams(streamIndex);
            AVCodecParameters par = stream.codecpar();
            AVCodec codec = avcodec_find_decoder(par.codec_id());
            if (codec == null || codec.isNull()) {
                throw new MediaInputException(Reason.UNSUPPORTED_CODEC, source + ": no decoder for the video codec (id "
                        + par.codec_id() + ")");
            }
            int cw = par.width();
            int ch = par.height();
            if (cw <= 0 || ch <= 0) {
                throw new MediaInputException(Reason.CORRUPT, source + ": the video stream has no frame size");
            }
            if ((long) cw * ch > limits.maxPixelsPerFrame()) {
                throw new MediaInputException(Reason.TOO_LARGE, source + ": frames are " + cw + "x" + ch
                        + "; the limit is " + limits.maxPixelsPerFrame() + " pixels");
            }
            long containerDuration = fmt.duration();
            if (containerDuration != AV_NOPTS_VALUE && containerDuration / 1e6 > limits.maxDurationSeconds()) {
                throw tooLong(containerDuration / 1e6);
            }
            AVRational tb = stream.time_base();
            double tbSeconds = (double) tb.num() / tb.den();
            long[][] index = readPacketIndex(tbSeconds);
            sortedPts = index[0];
            keyframeIndices = Arrays.stream(index[1]).mapToInt(x -> (int) x).toArray();
            int numFrames = sortedPts.length;
            double span = (sortedPts[numFrames - 1] - sortedPts[0]) * tbSeconds;
            double avgFps = averageFps(stream, numFrames, span);
            double duration = span + 1 / avgFps;
            if (duration > limits.maxDurationSeconds()) {
                throw tooLong(duration);
            }
            rotation = rotationOf(par);
            boolean swap = rotation == 90 || rotation == 270;
            info = new VideoInfo(swap ? ch : cw, swap ? cw : ch, rotation, numFrames, avgFps, duration,
                    codec.name().getString(), fmt.iformat().name().getString());

            decoder = avcodec_alloc_context3(codec);
            avcodec_parameters_to_context(decoder, par);
            decoder.pkt_timebase(tb);
            // A few threads per video: enough for 720p/1080p H.264 in real time, and concurrent requests each
            // get some instead of every decoder spawning one thread per core.
            decoder.thread_count(Math.min(4, Runtime.getRuntime().availableProcessors()));
            ret = avcodec_open2(decoder, codec, (AVDictionary) null);
            if (ret < 0) {
                throw new MediaInputException(Reason.UNSUPPORTED_CODEC, source + ": cannot open the "
                        + info.codec() + " decoder (" + error(ret) + ")");
            }
            seekTo(0);
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    public VideoInfo info() {
        return info;
    }

    /** Hex SHA-256 of the encoded video (computed on first use): the same bytes always give the same chunks. */
    public String contentSha256() {
        if (contentSha256 == null) {
            try {
                MessageDigest md = MessageDigest.getInstance("SHA-256");
                if (bytes != null) {
                    md.update(bytes);
                } else {
                    try (InputStream in = Files.newInputStream(file)) {
                        byte[] buf = new byte[1 << 16];
                        for (int n; (n = in.read(buf)) > 0; ) {
                            md.update(buf, 0, n);
                        }
                    }
                }
                contentSha256 = HexFormat.of().formatHex(md.digest());
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException("SHA-256 is required by every JDK", e);
            } catch (IOException e) {
                throw new MediaInputException(Reason.CORRUPT, source + ": cannot read " + file + ": " + e, e);
            }
        }
        return contentSha256;
    }

    /**
     * Cache key of one chunk's encoder output: the video's content hash and the frames the chunk holds. Frames are
     * decoded deterministically, so equal keys mean equal pixels (for the same preprocessing and weights, which the
     * encoder cache adds to the key).
     */
    public String chunkKey(ChunkPlan chunk) {
        return contentSha256() + "/frames=" + chunk.frameIndices();
    }

    /** The K2.5 sampling plan for this video, checked against the frame and token limits. */
    public SamplingPlan plan(VideoProcessorConfig cfg) {
        SamplingPlan plan = FrameSampler.plan(info.numFrames(), info.avgFps(), cfg);
        if (plan.sampledFrames() > limits.maxSampledFrames()) {
            throw new MediaInputException(Reason.TOO_MANY_FRAMES, source + ": " + plan.sampledFrames()
                    + " frames would be sampled; the limit is " + limits.maxSampledFrames());
        }
        long tokens = visionTokens(plan, cfg);
        if (tokens > limits.maxVisionTokens()) {
            throw new MediaInputException(Reason.TOO_MANY_TOKENS, source + ": the video needs " + tokens
                    + " vision tokens (" + plan.chunks().size() + " chunks); the limit is "
                    + limits.maxVisionTokens());
        }
        return plan;
    }

    /** LM positions of all chunks (each chunk's size is its frames' display size under the per-frame budget). */
    public long visionTokens(SamplingPlan plan, VideoProcessorConfig cfg) {
        return (long) plan.chunks().size() * ChunkResize.of(info.width(), info.height(), cfg).tokensPerChunk();
    }

    /**
     * Decodes the plan's chunks lazily, in order: each {@code next()} decodes only that chunk's frames. The iterator
     * is single-use and must be consumed before this video is closed.
     */
    public Iterator<VideoChunk> chunks(SamplingPlan plan) {
        if (plan.numFrames() != info.numFrames()) {
            throw new IllegalArgumentException("the plan is for " + plan.numFrames() + " frames, the video has "
                    + info.numFrames());
        }
        return new Iterator<>() {
            private int next;

            @Override
            public boolean hasNext() {
                return next < plan.chunks().size();
            }

            @Override
            public VideoChunk next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                ChunkPlan chunk = plan.chunks().get(next++);
                List<VideoFrame> frames = new ArrayList<>(chunk.numFrames());
                for (int idx : chunk.frameIndices()) {
                    frames.add(decodeFrame(idx));
                }
                return new VideoChunk(chunk, frames);
            }
        };
    }

    /** Frames the decoder produced so far (wanted or not): what sampling and seeking saved is the difference. */
    public long framesDecoded() {
        return framesDecoded;
    }

    /** Seeks done so far, including the one to the start when the video was opened. */
    public int seeks() {
        return seeks;
    }

    /** Decodes every chunk (convenience for short videos; long ones should stream {@link #chunks}). */
    public List<VideoChunk> decodeAll(SamplingPlan plan) {
        List<VideoChunk> out = new ArrayList<>();
        chunks(plan).forEachRemaining(out::add);
        return out;
    }

    private VideoFrame decodeFrame(int target) {
        ensureOpen();
        if (target < 0 || target >= sortedPts.length) {
            throw new IllegalArgumentException("frame " + target + " is outside 0.." + (sortedPts.length - 1));
        }
        int key = lastKeyframeAtOrBefore(target);
        // Seek when going backwards, or when a keyframe lies ahead of us before the target (decoding the frames
        // in between would be wasted work).
        if (target <= lastIndex || key > lastIndex + 1) {
            seekTo(key);
        }
        VideoFrame lastSeen = null;
        while (true) {
            if (!receiveFrame()) {
                if (lastSeen != null) {
                    return lastSeen;
                }
                throw new MediaInputException(Reason.CORRUPT, source + ": the stream ends before frame " + target
                        + " of " + sortedPts.length);
            }
            long pts = frame.best_effort_timestamp();
            int idx = pts == AV_NOPTS_VALUE ? -1 : Arrays.binarySearch(sortedPts, pts);
            if (idx < 0) {
                // A frame time the index does not know (damaged timestamps): count on from the last frame.
                idx = lastIndex + 1;
            }
            lastIndex = idx;
            if (idx >= target) {
                // idx > target means the decoder never produced the target (a damaged frame); the next one
                // stands in for it rather than failing the whole request.
                VideoFrame out = toVideoFrame(target, pts);
                av_frame_unref(frame);
                return out;
            }
            av_frame_unref(frame);
        }
    }

    /** Pulls the next decoded frame into {@code frame}; false at the end of the stream. */
    private boolean receiveFrame() {
        while (true) {
            int ret = avcodec_receive_frame(decoder, frame);
            if (ret >= 0) {
                framesDecoded++;
                return true;
            }
            if (ret == AVERROR_EOF) {
                decoderDrained = true;
                return false;
            }
            if (ret != AVERROR_EAGAIN()) {
                throw new MediaInputException(Reason.CORRUPT, source + ": decoding failed (" + error(ret) + ")");
            }
            if (demuxerDone) {
                return false;
            }
            boolean sent = false;
            while (!sent) {
                int r = av_read_frame(format, packet);
                if (r < 0) {
                    // End of file or a truncated tail: drain what the decoder holds.
                    demuxerDone = true;
                    avcodec_send_packet(decoder, null);
                    break;
                }
                if (packet.stream_index() == streamIndex) {
                    int s = avcodec_send_packet(decoder, packet);
                    if (s < 0 && s != AVERROR_EAGAIN() && s != AVERROR_INVALIDDATA) {
                        av_packet_unref(packet);
                        throw new MediaInputException(Reason.CORRUPT, source + ": decoding failed (" + error(s)
                                + ")");
                    }
                    sent = true;
                }
                av_packet_unref(packet);
            }
        }
    }

    private void seekTo(int presentationIndex) {
        int ret = av_seek_frame(format, streamIndex, sortedPts[presentationIndex], AVSEEK_FLAG_BACKWARD);
        if (ret < 0) {
            throw new MediaInputException(Reason.CORRUPT, source + ": cannot seek in the video (" + error(ret) + ")");
        }
        avcodec_flush_buffers(decoder);
        seeks++;
        demuxerDone = false;
        decoderDrained = false;
        lastIndex = presentationIndex - 1;
    }

    private int lastKeyframeAtOrBefore(int target) {
        int pos = Arrays.binarySearch(keyframeIndices, target);
        if (pos >= 0) {
            return keyframeIndices[pos];
        }
        int insertion = -pos - 1;
        return insertion == 0 ? 0 : keyframeIndices[insertion - 1];
    }

    private VideoFrame toVideoFrame(int target, long pts) {
        int w = frame.width();
        int h = frame.height();
        sws = sws_getCachedContext(sws, w, h, frame.format(), w, h, AV_PIX_FMT_RGB24,
                SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, null, null, (DoublePointer) null);
        if (sws == null || sws.isNull()) {
            throw new MediaInputException(Reason.UNSUPPORTED_CODEC, source + ": cannot convert pixel format "
                    + frame.format() + " to RGB");
        }
        int space = frame.colorspace() == AVCOL_SPC_UNSPECIFIED ? SWS_CS_DEFAULT : frame.colorspace();
        IntPointer coefficients = sws_getCoefficients(space);
        sws_setColorspaceDetails(sws, coefficients, frame.color_range() == AVCOL_RANGE_JPEG ? 1 : 0,
                sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16, 1 << 16);
        int stride = (w * 3 + 63) & ~63;
        byte[] rgb = new byte[w * h * 3];
        try (BytePointer dst = new BytePointer((long) stride * h + 64);
             PointerPointer<BytePointer> dstData = new PointerPointer<>(dst, null, null, null);
             IntPointer dstStride = new IntPointer(stride, 0, 0, 0)) {
            sws_scale(sws, frame.data(), frame.linesize(), 0, h, dstData, dstStride);
            for (int y = 0; y < h; y++) {
                dst.position((long) y * stride).get(rgb, y * w * 3, w * 3);
            }
        }
        byte[] upright = Rotation.rotate(rgb, w, h, rotation);
        boolean swap = rotation == 90 || rotation == 270;
        AVRational tb = stream.time_base();
        double seconds = pts == AV_NOPTS_VALUE ? target / info.avgFps()
                : (pts - sortedPts[0]) * (double) tb.num() / tb.den();
        return new VideoFrame(target, seconds, new RgbFrame(swap ? h : w, swap ? w : h, upright));
    }

    /** Reads every packet header of the video stream: sorted presentation times and keyframe positions. */
    private long[][] readPacketIndex(double tbSeconds) {
        long maxFrames = (long) Math.ceil(limits.maxDurationSeconds() * 1000);
        long[] pts = new long[1024];
        long[] keyPts = new long[64];
        int n = 0;
        int keys = 0;
        long lastDts = Long.MIN_VALUE;
        while (av_read_frame(format, packet) >= 0) {
            // Samples outside an MP4/MOV edit list come flagged as discard; decoders drop them, so they are no frames.
            if (packet.stream_index() == streamIndex && (packet.flags() & AV_PKT_FLAG_DISCARD) == 0) {
                long t = packet.pts() != AV_NOPTS_VALUE ? packet.pts() : packet.dts();
                if (t == AV_NOPTS_VALUE) {
                    // No timestamps at all: number the packets in decode order.
                    t = lastDts == Long.MIN_VALUE ? 0 : lastDts + 1;
                }
                lastDts = t;
                if (n == pts.length) {
                    pts = Arrays.copyOf(pts, n * 2);
                }
                pts[n++] = t;
                if ((packet.flags() & AV_PKT_FLAG_KEY) != 0) {
                    if (keys == keyPts.length) {
                        keyPts = Arrays.copyOf(keyPts, keys * 2);
                    }
                    keyPts[keys++] = t;
                }
                if (n > maxFrames) {
                    // Above 1000 frames per second of allowed duration: stop indexing, whatever the header says.
                    av_packet_unref(packet);
                    throw new MediaInputException(Reason.TOO_LONG, source + ": the video has more than " + maxFrames
                            + " frames; the limit is " + String.format("%.0f", limits.maxDurationSeconds())
                            + " s at up to 1000 fps");
                }
            }
            av_packet_unref(packet);
        }
        if (n == 0) {
            throw new MediaInputException(Reason.CORRUPT, source + ": the video stream holds no frames");
        }
        long[] sorted = Arrays.copyOf(pts, n);
        Arrays.sort(sorted);
        long[] keyIndex = new long[keys];
        int k = 0;
        for (int i = 0; i < keys; i++) {
            int pos = Arrays.binarySearch(sorted, keyPts[i]);
            if (pos >= 0) {
                keyIndex[k++] = pos;
            }
        }
        keyIndex = Arrays.copyOf(keyIndex, k);
        Arrays.sort(keyIndex);
        if (k == 0 || keyIndex[0] != 0) {
            // Decoding must be able to start at the first frame: treat it as a seek point.
            long[] withFirst = new long[k + 1];
            System.arraycopy(keyIndex, 0, withFirst, 1, k);
            keyIndex = withFirst;
        }
        return new long[][] {sorted, keyIndex};
    }

    private double averageFps(AVStream s, int numFrames, double span) {
        AVRational avg = s.avg_frame_rate();
        if (avg.num() > 0 && avg.den() > 0) {
            return (double) avg.num() / avg.den();
        }
        if (numFrames > 1 && span > 0) {
            return (numFrames - 1) / span;
        }
        AVRational r = s.r_frame_rate();
        if (r.num() > 0 && r.den() > 0) {
            return (double) r.num() / r.den();
        }
        throw new MediaInputException(Reason.CORRUPT, source + ": the video has no frame rate");
    }

    private static int rotationOf(AVCodecParameters par) {
        AVPacketSideData sd = av_packet_side_data_get(par.coded_side_data(), par.nb_coded_side_data(),
                AV_PKT_DATA_DISPLAYMATRIX);
        if (sd == null || sd.isNull() || sd.size() < 36) {
            return 0;
        }
        return Rotation.clockwiseDegrees(av_display_rotation_get(new IntPointer(sd.data())));
    }

    private MediaInputException tooLong(double seconds) {
        return new MediaInputException(Reason.TOO_LONG, String.format("%s: the video is %.1f s long; the limit is %.0f s",
                source, seconds, limits.maxDurationSeconds()));
    }

    private static String error(int code) {
        byte[] buf = new byte[256];
        av_strerror(code, buf, buf.length);
        int len = 0;
        while (len < buf.length && buf[len] != 0) {
            len++;
        }
        return new String(buf, 0, len, java.nio.charset.StandardCharsets.UTF_8);
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException(source + ": the video is closed");
        }
    }

    private void freeNative() {
        av_packet_free(packet);
        av_frame_free(frame);
        if (memory != null) {
            memory.close();
        }
        closed = true;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        if (sws != null) {
            sws_freeContext(sws);
        }
        if (decoder != null) {
            avcodec_free_context(decoder);
        }
        if (format != null) {
            avformat_close_input(format);
        }
        freeNative();
    }
}
