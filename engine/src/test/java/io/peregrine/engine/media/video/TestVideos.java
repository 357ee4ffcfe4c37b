package io.peregrine.engine.media.video;

import static org.bytedeco.ffmpeg.global.avcodec.AV_CODEC_FLAG_GLOBAL_HEADER;
import static org.bytedeco.ffmpeg.global.avcodec.AV_PKT_DATA_DISPLAYMATRIX;
import static org.bytedeco.ffmpeg.global.avcodec.av_packet_alloc;
import static org.bytedeco.ffmpeg.global.avcodec.av_packet_free;
import static org.bytedeco.ffmpeg.global.avcodec.av_packet_rescale_ts;
import static org.bytedeco.ffmpeg.global.avcodec.av_packet_side_data_new;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_alloc_context3;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_find_encoder_by_name;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_free_context;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_open2;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_parameters_from_context;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_receive_packet;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_send_frame;
import static org.bytedeco.ffmpeg.global.avformat.AVFMT_GLOBALHEADER;
import static org.bytedeco.ffmpeg.global.avformat.AVIO_FLAG_WRITE;
import static org.bytedeco.ffmpeg.global.avformat.av_interleaved_write_frame;
import static org.bytedeco.ffmpeg.global.avformat.av_write_trailer;
import static org.bytedeco.ffmpeg.global.avformat.avformat_alloc_output_context2;
import static org.bytedeco.ffmpeg.global.avformat.avformat_free_context;
import static org.bytedeco.ffmpeg.global.avformat.avformat_new_stream;
import static org.bytedeco.ffmpeg.global.avformat.avformat_write_header;
import static org.bytedeco.ffmpeg.global.avformat.avio_closep;
import static org.bytedeco.ffmpeg.global.avformat.avio_open;
import static org.bytedeco.ffmpeg.global.avutil.AVERROR_EAGAIN;
import static org.bytedeco.ffmpeg.global.avutil.AVERROR_EOF;
import static org.bytedeco.ffmpeg.global.avutil.AV_PIX_FMT_RGB24;
import static org.bytedeco.ffmpeg.global.avutil.av_display_rotation_set;
import static org.bytedeco.ffmpeg.global.avutil.av_frame_alloc;
import static org.bytedeco.ffmpeg.global.avutil.av_frame_free;
import static org.bytedeco.ffmpeg.global.avutil.av_frame_get_buffer;
import static org.bytedeco.ffmpeg.global.avutil.av_frame_make_writable;
import static org.bytedeco.ffmpeg.global.swscale.SWS_BICUBIC;
import static org.bytedeco.ffmpeg.global.swscale.sws_freeContext;
import static org.bytedeco.ffmpeg.global.swscale.sws_getContext;
import static org.bytedeco.ffmpeg.global.swscale.sws_scale;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.IntFunction;
import org.bytedeco.ffmpeg.avcodec.AVCodec;
import org.bytedeco.ffmpeg.avcodec.AVCodecContext;
import org.bytedeco.ffmpeg.avcodec.AVPacket;
import org.bytedeco.ffmpeg.avcodec.AVPacketSideData;
import org.bytedeco.ffmpeg.avformat.AVFormatContext;
import org.bytedeco.ffmpeg.avformat.AVIOContext;
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
 * Writes small test videos with the same FFmpeg bindings the decoder uses: any muxer/encoder pair, per-frame
 * presentation times in milliseconds (so variable frame rates are easy), and an optional display-matrix rotation.
 */
final class TestVideos {
    private TestVideos() {}

    /** Frame {@code i}: a solid colour that identifies i, with a white 8x8 block in the coded top-left corner. */
    static byte[] patternFrame(int i, int w, int h) {
        byte[] rgb = new byte[w * h * 3];
        int[] c = colourOf(i);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int o = (y * w + x) * 3;
                boolean marker = x < 8 && y < 8;
                rgb[o] = (byte) (marker ? 255 : c[0]);
                rgb[o + 1] = (byte) (marker ? 255 : c[1]);
                rgb[o + 2] = (byte) (marker ? 255 : c[2]);
            }
        }
        return rgb;
    }

    static int[] colourOf(int i) {
        return new int[] {(37 * i + 20) % 200 + 20, (91 * i + 60) % 200 + 20, (53 * i + 140) % 200 + 20};
    }

    static boolean available(String encoder) {
        AVCodec c = avcodec_find_encoder_by_name(encoder);
        return c != null && !c.isNull();
    }

    /**
     * @param rotationClockwise display rotation a player applies (0, 90, 180, 270)
     */
    static byte[] write(Path file, String muxer, String encoder, int pixFmt, int w, int h, long[] ptsMillis,
                        int rotationClockwise, IntFunction<byte[]> rgbOfFrame) {
        return write(file, muxer, encoder, pixFmt, w, h, ptsMillis, rotationClockwise, 4, rgbOfFrame);
    }

    static byte[] writeWithGop(Path file, String muxer, String encoder, int pixFmt, int w, int h, long[] ptsMillis,
                               int gop, IntFunction<byte[]> rgbOfFrame) {
        return write(file, muxer, encoder, pixFmt, w, h, ptsMillis, 0, gop, rgbOfFrame);
    }

    private static byte[] write(Path file, String muxer, String encoder, int pixFmt, int w, int h, long[] ptsMillis,
                                int rotationClockwise, int gop, IntFunction<byte[]> rgbOfFrame) {
        AVFormatContext oc = new AVFormatContext(null);
        check(avformat_alloc_output_context2(oc, null, muxer, file.toString()), "alloc output");
        AVCodec codec = avcodec_find_encoder_by_name(encoder);
        if (codec == null || codec.isNull()) {
            throw new IllegalStateException("no encoder " + encoder);
        }
        AVStream st = avformat_new_stream(oc, null);
        AVCodecContext cc = avcodec_alloc_context3(codec);
        AVRational tb = new AVRational().num(1).den(1000);
        cc.width(w).height(h).pix_fmt(pixFmt).time_base(tb).gop_size(gop).max_b_frames(0);
        cc.framerate(new AVRational().num(10).den(1));
        if ((oc.oformat().flags() & AVFMT_GLOBALHEADER) != 0) {
            cc.flags(cc.flags() | AV_CODEC_FLAG_GLOBAL_HEADER);
        }
        check(avcodec_open2(cc, codec, (AVDictionary) null), "open encoder " + encoder);
        check(avcodec_parameters_from_context(st.codecpar(), cc), "codec parameters");
        st.time_base(tb);
        if (rotationClockwise != 0) {
            IntPointer pn = new IntPointer(1).put(st.codecpar().nb_coded_side_data());
            PointerPointer<?> psd = new PointerPointer<>(1).put(st.codecpar().coded_side_data());
            AVPacketSideData sd = av_packet_side_data_new(psd, pn, AV_PKT_DATA_DISPLAYMATRIX, 36, 0);
            // av_display_rotation_set takes the clockwise angle (av_display_rotation_get returns counter-clockwise)
            av_display_rotation_set(new IntPointer(sd.data()), rotationClockwise);
            st.codecpar().coded_side_data(new AVPacketSideData(psd.get(0))).nb_coded_side_data(pn.get());
        }
        AVIOContext pb = new AVIOContext(null);
        check(avio_open(pb, file.toString(), AVIO_FLAG_WRITE), "open " + file);
        oc.pb(pb);
        check(avformat_write_header(oc, (AVDictionary) null), "write header");

        AVFrame f = av_frame_alloc();
        f.format(pixFmt).width(w).height(h);
        check(av_frame_get_buffer(f, 0), "frame buffer");
        SwsContext sws = sws_getContext(w, h, AV_PIX_FMT_RGB24, w, h, pixFmt, SWS_BICUBIC, null, null,
                (DoublePointer) null);
        AVPacket pkt = av_packet_alloc();
        for (int i = 0; i < ptsMillis.length; i++) {
            byte[] rgb = rgbOfFrame.apply(i);
            check(av_frame_make_writable(f), "writable");
            try (BytePointer src = new BytePointer(rgb);
                 PointerPointer<BytePointer> srcData = new PointerPointer<>(src, null, null, null);
                 IntPointer srcStride = new IntPointer(w * 3, 0, 0, 0)) {
                sws_scale(sws, srcData, srcStride, 0, h, f.data(), f.linesize());
            }
            f.pts(ptsMillis[i]);
            check(avcodec_send_frame(cc, f), "send frame");
            drain(cc, pkt, oc, st, tb, ptsMillis);
        }
        check(avcodec_send_frame(cc, null), "flush");
        drain(cc, pkt, oc, st, tb, ptsMillis);
        check(av_write_trailer(oc), "trailer");
        av_packet_free(pkt);
        av_frame_free(f);
        sws_freeContext(sws);
        avcodec_free_context(cc);
        avio_closep(oc.pb());
        avformat_free_context(oc);
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void drain(AVCodecContext cc, AVPacket pkt, AVFormatContext oc, AVStream st, AVRational tb,
                              long[] ptsMillis) {
        while (true) {
            int r = avcodec_receive_packet(cc, pkt);
            if (r == AVERROR_EAGAIN() || r == AVERROR_EOF) {
                return;
            }
            check(r, "receive packet");
            // Give every packet its real duration so the container's edit list covers the last frame too.
            int i = java.util.Arrays.binarySearch(ptsMillis, pkt.pts());
            if (i >= 0) {
                long next = i + 1 < ptsMillis.length ? ptsMillis[i + 1]
                        : ptsMillis[i] + (i > 0 ? ptsMillis[i] - ptsMillis[i - 1] : 100);
                pkt.duration(next - ptsMillis[i]);
            }
            av_packet_rescale_ts(pkt, tb, st.time_base());
            pkt.stream_index(st.index());
            check(av_interleaved_write_frame(oc, pkt), "write packet");
        }
    }

    private static void check(int ret, String what) {
        if (ret < 0) {
            throw new IllegalStateException(what + " failed: " + ret);
        }
    }
}
