package io.peregrine.engine.vision.onnx;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * Builds one ONNX graph (opset 20, default domain) and writes it as a ModelProto. Initializers above a small
 * size go to an external-data file beside the model, so a full-size tower (≈1.7 GB in fp32) stays clear of
 * protobuf's 2 GB message limit and ONNX Runtime can map the weights instead of parsing them.
 */
public final class OnnxGraph {
    public static final int OPSET = 20;
    static final int IR_VERSION = 9;
    static final int FLOAT = 1;
    static final int INT64 = 7;
    private static final int EXTERNAL_THRESHOLD_BYTES = 1024;
    static final String MICROSOFT_DOMAIN = "com.microsoft";

    /** An operator attribute. */
    public sealed interface Attr {
        String name();

        record Int(String name, long value) implements Attr {}

        record Flt(String name, float value) implements Attr {}

        record Ints(String name, long[] values) implements Attr {}

        record Str(String name, String value) implements Attr {}
    }

    /** Dimension of a graph input or output: a fixed size or a named symbolic one. */
    public sealed interface Dim {
        record Fixed(long size) implements Dim {}

        record Symbolic(String name) implements Dim {}
    }

    private record Node(String domain, String op, List<String> inputs, List<String> outputs, List<Attr> attrs) {}

    /** The data is produced when the model is written, so weights need not all sit in memory at once. */
    private record Initializer(String name, int dataType, long[] dims, Supplier<ByteBuffer> data) {}

    private record ValueInfo(String name, int elemType, List<Dim> dims) {}

    private final List<Node> nodes = new ArrayList<>();
    private final List<Initializer> initializers = new ArrayList<>();
    private final List<ValueInfo> inputs = new ArrayList<>();
    private final List<ValueInfo> outputs = new ArrayList<>();
    private int counter;

    /** Adds a node with one output and returns the output's (generated) name. */
    public String op(String opType, List<String> in, Attr... attrs) {
        String out = opType.toLowerCase() + "_" + (counter++);
        nodes.add(new Node("", opType, List.copyOf(in), List.of(out), List.of(attrs)));
        return out;
    }

    /** A node of ONNX Runtime's contrib domain ({@code com.microsoft}), e.g. its fused MultiHeadAttention. */
    public String contribOp(String opType, List<String> in, Attr... attrs) {
        String out = opType.toLowerCase() + "_" + (counter++);
        nodes.add(new Node(MICROSOFT_DOMAIN, opType, List.copyOf(in), List.of(out), List.of(attrs)));
        return out;
    }

    /** Adds a node whose single output gets the given name (graph outputs, named intermediates). */
    public String opNamed(String output, String opType, List<String> in, Attr... attrs) {
        nodes.add(new Node("", opType, List.copyOf(in), List.of(output), List.of(attrs)));
        return output;
    }

    public String floatInitializer(String name, long[] dims, float[] data) {
        return floatInitializer(name, dims, () -> data);
    }

    /** A float initializer whose values are computed only when the model is written. */
    public String floatInitializer(String name, long[] dims, Supplier<float[]> data) {
        initializers.add(new Initializer(name, FLOAT, dims.clone(), () -> {
            float[] f = data.get();
            ByteBuffer b = ByteBuffer.allocate(f.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            b.asFloatBuffer().put(f);
            return b;
        }));
        return name;
    }

    public String int64Constant(long... values) {
        String name = "const_i64_" + (counter++);
        ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        b.asLongBuffer().put(values);
        initializers.add(new Initializer(name, INT64, new long[] {values.length}, () -> b));
        return name;
    }

    public String int64Scalar(long value) {
        String name = "const_i64s_" + (counter++);
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, value);
        initializers.add(new Initializer(name, INT64, new long[0], () -> b));
        return name;
    }

    public String floatScalar(float value) {
        String name = "const_f32s_" + (counter++);
        ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(0, value);
        initializers.add(new Initializer(name, FLOAT, new long[0], () -> b));
        return name;
    }

    public void input(String name, boolean int64, Dim... dims) {
        inputs.add(new ValueInfo(name, int64 ? INT64 : FLOAT, List.of(dims)));
    }

    public void output(String name, Dim... dims) {
        outputs.add(new ValueInfo(name, FLOAT, List.of(dims)));
    }

    public static Dim fixed(long size) {
        return new Dim.Fixed(size);
    }

    public static Dim sym(String name) {
        return new Dim.Symbolic(name);
    }

    /**
     * Writes {@code model} and, for the large initializers, {@code model}'s sibling {@code weightsFileName}
     * (ONNX Runtime resolves external data relative to the model file).
     */
    public void write(Path model, String weightsFileName, String graphName) throws IOException {
        ProtoWriter graph = new ProtoWriter();
        for (Node n : nodes) {
            graph.message(1, node(n));
        }
        graph.string(2, graphName);
        try (OutputStream weights = Files.newOutputStream(model.resolveSibling(weightsFileName))) {
            long offset = 0;
            for (Initializer init : initializers) {
                ProtoWriter t = new ProtoWriter().packedInt64(1, init.dims).int64(2, init.dataType).string(8, init.name);
                ByteBuffer data = init.data.get();
                int size = data.remaining();
                if (size > EXTERNAL_THRESHOLD_BYTES) {
                    long aligned = (offset + 63) & ~63L; // 64-byte aligned so the runtime may map it in place
                    weights.write(new byte[(int) (aligned - offset)]);
                    writeFully(weights, data);
                    t.message(13, entry("location", weightsFileName))
                            .message(13, entry("offset", Long.toString(aligned)))
                            .message(13, entry("length", Integer.toString(size)))
                            .int64(14, 1);
                    offset = aligned + size;
                } else {
                    byte[] raw = new byte[size];
                    data.duplicate().get(raw);
                    t.bytes(9, raw);
                }
                graph.message(5, t);
            }
        }
        for (ValueInfo v : inputs) {
            graph.message(11, valueInfo(v));
        }
        for (ValueInfo v : outputs) {
            graph.message(12, valueInfo(v));
        }
        ProtoWriter modelProto = new ProtoWriter()
                .int64(1, IR_VERSION)
                .string(2, "peregrine")
                .message(7, graph)
                .message(8, new ProtoWriter().string(1, "").int64(2, OPSET));
        if (nodes.stream().anyMatch(n -> n.domain.equals(MICROSOFT_DOMAIN))) {
            modelProto.message(8, new ProtoWriter().string(1, MICROSOFT_DOMAIN).int64(2, 1));
        }
        Files.write(model, modelProto.toByteArray());
    }

    private static void writeFully(OutputStream out, ByteBuffer data) throws IOException {
        ByteBuffer d = data.duplicate();
        byte[] chunk = new byte[1 << 16];
        while (d.hasRemaining()) {
            int n = Math.min(chunk.length, d.remaining());
            d.get(chunk, 0, n);
            out.write(chunk, 0, n);
        }
    }

    private static ProtoWriter entry(String key, String value) {
        return new ProtoWriter().string(1, key).string(2, value);
    }

    private static ProtoWriter node(Node n) {
        ProtoWriter w = new ProtoWriter();
        n.inputs.forEach(i -> w.string(1, i));
        n.outputs.forEach(o -> w.string(2, o));
        w.string(4, n.op);
        if (!n.domain.isEmpty()) {
            w.string(7, n.domain);
        }
        for (Attr a : n.attrs) {
            ProtoWriter aw = new ProtoWriter().string(1, a.name());
            switch (a) {
                case Attr.Int i -> aw.int64(3, i.value()).int64(20, 2);
                case Attr.Flt f -> aw.float32(2, f.value()).int64(20, 1);
                case Attr.Ints is -> aw.packedInt64(8, is.values()).int64(20, 7);
                case Attr.Str s -> aw.string(4, s.value()).int64(20, 3);
            }
            w.message(5, aw);
        }
        return w;
    }

    private static ProtoWriter valueInfo(ValueInfo v) {
        ProtoWriter shape = new ProtoWriter();
        for (Dim d : v.dims) {
            ProtoWriter dim = new ProtoWriter();
            switch (d) {
                case Dim.Fixed f -> dim.int64(1, f.size());
                case Dim.Symbolic s -> dim.string(2, s.name());
            }
            shape.message(1, dim);
        }
        ProtoWriter tensorType = new ProtoWriter().int64(1, v.elemType).message(2, shape);
        return new ProtoWriter().string(1, v.name).message(2, new ProtoWriter().message(1, tensorType));
    }
}
