package io.peregrine.engine.vision.onnx;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * The protobuf wire format, encoding side only, for the handful of ONNX messages we emit. Hand-rolled instead of
 * depending on protobuf-java plus generated ONNX classes: no Maven Central artifact ships the ONNX protos for
 * Java without pulling a native ONNX build, and writing a message tree needs only varints and length prefixes
 * (about 60 lines), which the ONNX Runtime parser then validates for us.
 */
public final class ProtoWriter {
    private static final int VARINT = 0;
    private static final int FIXED32 = 5;
    private static final int LEN = 2;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    public ProtoWriter int64(int field, long v) {
        tag(field, VARINT);
        varint(v);
        return this;
    }

    public ProtoWriter float32(int field, float v) {
        tag(field, FIXED32);
        int bits = Float.floatToRawIntBits(v);
        for (int i = 0; i < 4; i++) {
            out.write(bits >>> (8 * i));
        }
        return this;
    }

    public ProtoWriter string(int field, String s) {
        return bytes(field, s.getBytes(StandardCharsets.UTF_8));
    }

    public ProtoWriter bytes(int field, byte[] b) {
        tag(field, LEN);
        varint(b.length);
        out.writeBytes(b);
        return this;
    }

    public ProtoWriter message(int field, ProtoWriter m) {
        return bytes(field, m.toByteArray());
    }

    /** A repeated int64 field in packed encoding. */
    public ProtoWriter packedInt64(int field, long[] values) {
        ProtoWriter body = new ProtoWriter();
        for (long v : values) {
            body.varint(v);
        }
        return bytes(field, body.toByteArray());
    }

    public byte[] toByteArray() {
        return out.toByteArray();
    }

    private void tag(int field, int wireType) {
        varint(((long) field << 3) | wireType);
    }

    private void varint(long v) {
        while ((v & ~0x7FL) != 0) {
            out.write((int) ((v & 0x7F) | 0x80));
            v >>>= 7;
        }
        out.write((int) v);
    }
}
