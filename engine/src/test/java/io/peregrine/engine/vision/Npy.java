package io.peregrine.engine.vision;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Minimal reader for the golden .npy files (format 1.0, C order, little-endian f4 / u1 / i8). */
public record Npy(String descr, int[] shape, ByteBuffer data) {
    private static final Pattern DESCR = Pattern.compile("'descr':\\s*'([^']+)'");
    private static final Pattern SHAPE = Pattern.compile("'shape':\\s*\\(([^)]*)\\)");

    public static Npy read(Path p) throws IOException {
        byte[] all = Files.readAllBytes(p);
        if (all[0] != (byte) 0x93 || all[1] != 'N') {
            throw new IOException(p + ": not an npy file");
        }
        ByteBuffer b = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
        int headerLen = all[6] == 1 ? Short.toUnsignedInt(b.getShort(8)) : b.getInt(8);
        int headerStart = all[6] == 1 ? 10 : 12;
        String header = new String(all, headerStart, headerLen, StandardCharsets.ISO_8859_1);
        if (header.contains("'fortran_order': True")) {
            throw new IOException(p + ": fortran order");
        }
        Matcher d = DESCR.matcher(header);
        Matcher s = SHAPE.matcher(header);
        if (!d.find() || !s.find()) {
            throw new IOException(p + ": bad header " + header);
        }
        int[] shape = Arrays.stream(s.group(1).split(",")).map(String::trim).filter(x -> !x.isEmpty())
                .mapToInt(Integer::parseInt).toArray();
        ByteBuffer data = ByteBuffer.wrap(all, headerStart + headerLen, all.length - headerStart - headerLen)
                .slice().order(ByteOrder.LITTLE_ENDIAN);
        return new Npy(d.group(1), shape, data);
    }

    public float[] floats() {
        if (!descr.equals("<f4")) {
            throw new IllegalStateException("not float32: " + descr);
        }
        float[] out = new float[data.remaining() / 4];
        data.duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
        return out;
    }

    public byte[] bytes() {
        byte[] out = new byte[data.remaining()];
        data.duplicate().get(out);
        return out;
    }

    public long[] longs() {
        if (!descr.equals("<i8")) {
            throw new IllegalStateException("not int64: " + descr);
        }
        long[] out = new long[data.remaining() / 8];
        data.duplicate().order(ByteOrder.LITTLE_ENDIAN).asLongBuffer().get(out);
        return out;
    }
}
