package io.peregrine.engine.testing;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reads the golden {@code .npy} files: NumPy v1 format, C order, little-endian float32 matrices. */
public final class Npy {
    private static final Pattern SHAPE = Pattern.compile("'shape':\\s*\\((\\d+),\\s*(\\d+)\\)");

    private Npy() {}

    public static float[][] readF32Matrix(Path p) {
        try {
            ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(p)).order(ByteOrder.LITTLE_ENDIAN);
            if (b.get(0) != (byte) 0x93 || b.get(6) != 1) {
                throw new IllegalArgumentException(p + ": not a v1 .npy file");
            }
            int headerLen = Short.toUnsignedInt(b.getShort(8));
            String header = new String(b.array(), 10, headerLen, StandardCharsets.US_ASCII);
            if (!header.contains("'<f4'") || header.contains("'fortran_order': True")) {
                throw new IllegalArgumentException(p + ": expected C-order <f4, header " + header);
            }
            Matcher m = SHAPE.matcher(header);
            if (!m.find()) {
                throw new IllegalArgumentException(p + ": expected a 2-D shape, header " + header);
            }
            int rows = Integer.parseInt(m.group(1));
            int cols = Integer.parseInt(m.group(2));
            b.position(10 + headerLen);
            float[][] out = new float[rows][cols];
            for (float[] row : out) {
                b.asFloatBuffer().get(row);
                b.position(b.position() + cols * 4);
            }
            return out;
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + p, e);
        }
    }
}
