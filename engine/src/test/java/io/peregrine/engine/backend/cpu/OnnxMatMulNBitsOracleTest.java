package io.peregrine.engine.backend.cpu;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.peregrine.engine.backend.LinearWeight;
import io.peregrine.engine.checkpoint.Int4Group32;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * An independent oracle for the INT4 kernel: ONNX Runtime's {@code com.microsoft.MatMulNBits} (bits 4,
 * block_size 32, no zero points, so the implied zero point is 8). Its blob layout is compressed-tensors' int32
 * words as little-endian bytes: low nibble first. The weight bytes go in unchanged; if our nibble order, offset
 * or group indexing were wrong, the two would disagree.
 */
class OnnxMatMulNBitsOracleTest {
    private static final CpuBackend BACKEND = new CpuBackend(2);

    @AfterAll
    static void close() {
        BACKEND.close();
    }

    @ParameterizedTest
    @CsvSource({"1,32,1", "5,96,3", "33,544,4", "64,2048,2"})
    void int4KernelAgreesWithOnnxRuntime(int rows, int cols, int n) throws OrtException {
        Random rnd = new Random(rows + 17L * cols + n);
        Int4Group32 q = RandomWeights.int4(rnd, rows, cols);
        float[] x = RandomWeights.floats(rnd, n * cols);

        float[] ours = new float[n * rows];
        LinearWeight w = BACKEND.upload(q);
        BACKEND.matmul(w, new io.peregrine.engine.backend.HostTensor(x, 0, n, w.cols(), w.cols()),
                new io.peregrine.engine.backend.HostTensor(ours, 0, n, w.rows(), w.rows()));

        float[] oracle = runOnnx(q, x, n);
        // |Σ w x| ≤ Σ |w||x|; the fp32 reorder error is far below 1e-5 of the latter.
        float[] bound = new float[n * rows];
        for (int i = 0; i < bound.length; i++) {
            bound[i] = 8 * maxScale(q) * sumAbs(x, (i / rows) * cols, cols);
        }
        Close.assertClose(oracle, ours, bound, "MatMulNBits " + rows + "x" + cols + " n=" + n);
    }

    private static float maxScale(Int4Group32 q) {
        float m = 0;
        for (int r = 0; r < q.rows(); r++) {
            for (int g = 0; g < q.cols() / 32; g++) {
                m = Math.max(m, q.scale(r, g));
            }
        }
        return m;
    }

    private static float sumAbs(float[] x, int off, int len) {
        float s = 0;
        for (int i = 0; i < len; i++) {
            s += Math.abs(x[off + i]);
        }
        return s;
    }

    private static float[] runOnnx(Int4Group32 q, float[] x, int n) throws OrtException {
        int rows = q.rows();
        int cols = q.cols();
        int blocks = cols / 32;
        byte[] blob = q.packed().data().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        ByteBuffer scales = ByteBuffer.allocate(rows * blocks * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int r = 0; r < rows; r++) {
            for (int g = 0; g < blocks; g++) {
                scales.putFloat(q.scale(r, g));
            }
        }
        byte[] model = model(rows, cols, blob, scales.array());
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions();
             OrtSession session = env.createSession(model, opts);
             OnnxTensor a = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), new long[] {n, cols});
             OrtSession.Result result = session.run(Map.of("A", a))) {
            float[][] y = (float[][]) result.get(0).getValue();
            float[] flat = new float[n * rows];
            for (int t = 0; t < n; t++) {
                System.arraycopy(y[t], 0, flat, t * rows, rows);
            }
            return flat;
        }
    }

    /** ModelProto with one MatMulNBits node: Y[M, N] = A[M, K] · dequant(B)ᵀ. */
    static byte[] model(int rows, int cols, byte[] blob, byte[] scales) {
        int blocks = cols / 32;
        Protobuf node = new Protobuf().string(1, "A").string(1, "B").string(1, "scales").string(2, "Y")
                .string(3, "mm").string(4, "MatMulNBits").string(7, "com.microsoft")
                .message(5, intAttr("K", cols)).message(5, intAttr("N", rows))
                .message(5, intAttr("bits", 4)).message(5, intAttr("block_size", 32));
        Protobuf b = new Protobuf().varint(1, rows).varint(1, blocks).varint(1, 16).varint(2, 2 /* UINT8 */)
                .string(8, "B").bytes(9, blob);
        Protobuf s = new Protobuf().varint(1, (long) rows * blocks).varint(2, 1 /* FLOAT */).string(8, "scales")
                .bytes(9, scales);
        Protobuf graph = new Protobuf().message(1, node).string(2, "int4_oracle").message(5, b).message(5, s)
                .message(11, valueInfo("A", "M", cols)).message(12, valueInfo("Y", "M", rows));
        return new Protobuf().varint(1, 8 /* IR version */)
                .message(8, new Protobuf().string(1, "").varint(2, 17))
                .message(8, new Protobuf().string(1, "com.microsoft").varint(2, 1))
                .message(7, graph).toByteArray();
    }

    private static Protobuf intAttr(String name, long v) {
        return new Protobuf().string(1, name).varint(3, v).varint(20, 2 /* INT */);
    }

    private static Protobuf valueInfo(String name, String batchDim, int width) {
        Protobuf shape = new Protobuf().message(1, new Protobuf().string(2, batchDim))
                .message(1, new Protobuf().varint(1, width));
        Protobuf tensorType = new Protobuf().varint(1, 1 /* FLOAT */).message(2, shape);
        return new Protobuf().string(1, name).message(2, new Protobuf().message(1, tensorType));
    }
}
