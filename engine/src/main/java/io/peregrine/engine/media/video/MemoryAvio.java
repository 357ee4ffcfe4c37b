package io.peregrine.engine.media.video;

import static org.bytedeco.ffmpeg.global.avformat.AVSEEK_SIZE;
import static org.bytedeco.ffmpeg.global.avformat.avio_alloc_context;
import static org.bytedeco.ffmpeg.global.avformat.avio_context_free;
import static org.bytedeco.ffmpeg.global.avutil.AVERROR_EOF;
import static org.bytedeco.ffmpeg.global.avutil.av_free;
import static org.bytedeco.ffmpeg.global.avutil.av_malloc;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.bytedeco.ffmpeg.avformat.AVIOContext;
import org.bytedeco.ffmpeg.avformat.Read_packet_Pointer_BytePointer_int;
import org.bytedeco.ffmpeg.avformat.Seek_Pointer_long_int;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;

/**
 * An FFmpeg input reading from a Java byte array (a decoded data URL), so nothing touches the disk.
 *
 * <p>JavaCPP allocates a native thunk per callback object and caps how many may exist, so there is exactly one
 * read and one seek callback for the whole process; FFmpeg's opaque pointer (a one-byte native allocation whose
 * address is the key) selects the input they serve.
 */
final class MemoryAvio implements AutoCloseable {

    private static final int BUFFER_SIZE = 1 << 16;
    private static final Map<Long, MemoryAvio> OPEN = new ConcurrentHashMap<>();
    private static final int SEEK_SET = 0;
    private static final int SEEK_CUR = 1;
    private static final int SEEK_END = 2;

    private static final Read_packet_Pointer_BytePointer_int READ = new Read_packet_Pointer_BytePointer_int() {
        @Override
        public int call(Pointer opaque, BytePointer buf, int size) {
            MemoryAvio in = OPEN.get(opaque.address());
            if (in == null) {
                return AVERROR_EOF;
            }
            int n = (int) Math.min(size, in.data.length - in.position);
            if (n <= 0) {
                return AVERROR_EOF;
            }
            buf.position(0).put(in.data, (int) in.position, n);
            in.position += n;
            return n;
        }
    };

    private static final Seek_Pointer_long_int SEEK = new Seek_Pointer_long_int() {
        @Override
        public long call(Pointer opaque, long offset, int whence) {
            MemoryAvio in = OPEN.get(opaque.address());
            if (in == null) {
                return -1;
            }
            if ((whence & AVSEEK_SIZE) != 0) {
                return in.data.length;
            }
            long base = switch (whence & 0xFFFF) {
                case SEEK_SET -> 0;
                case SEEK_CUR -> in.position;
                case SEEK_END -> in.data.length;
                default -> -1;
            };
            long target = base + offset;
            if (base < 0 || target < 0 || target > in.data.length) {
                return -1;
            }
            in.position = target;
            return target;
        }
    };

    private final byte[] data;
    private final BytePointer key;
    private final AVIOContext context;
    private long position;
    private boolean closed;

    MemoryAvio(byte[] data) {
        this.data = data;
        this.key = new BytePointer(1);
        OPEN.put(key.address(), this);
        BytePointer buffer = new BytePointer(av_malloc(BUFFER_SIZE));
        this.context = avio_alloc_context(buffer, BUFFER_SIZE, 0, key, READ, null, SEEK);
        if (context == null || context.isNull()) {
            OPEN.remove(key.address());
            av_free(buffer);
            throw new OutOfMemoryError("avio_alloc_context failed");
        }
    }

    AVIOContext context() {
        return context;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        OPEN.remove(key.address());
        // FFmpeg may have replaced the buffer it was given; free the current one.
        av_free(context.buffer());
        context.buffer(null);
        avio_context_free(context);
        key.close();
    }
}
