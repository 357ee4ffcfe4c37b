package io.peregrine.engine.checkpoint.demo;

import io.peregrine.engine.checkpoint.DType;
import io.peregrine.engine.checkpoint.Int4Group32;
import io.peregrine.engine.checkpoint.TensorSpec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Deterministic random contents for every tensor of a demo checkpoint, produced in chunks so that no tensor is ever
 * whole in heap. Each tensor's values depend only on the seed and its name (never on shard split or chunk size).
 * Scales follow the golden README §2 init, so activations stay finite and varied: linear std
 * {@code 1.6/sqrt(fan_in)} (clamped to [0.02, 0.3]), embeddings 1, router 0.2, pos-emb 0.5, biases 0.1, norm gains
 * uniform in [0.6, 1.4), {@code e_score_correction_bias} uniform in [0, 0.3).
 */
final class DemoWeights {
    /** Elements per chunk handed to the writer (1 MiB of bf16). */
    static final int CHUNK = 1 << 19;

    private DemoWeights() {}

    /**
     * Streams {@code spec}'s bytes to {@code sink} in order, in chunks of at most a few MiB.
     *
     * @param layout every tensor of the checkpoint by name (a {@code weight_shape} states its sibling's shape)
     */
    static void generate(TensorSpec spec, long seed, int hiddenSize, Map<String, TensorSpec> layout,
                         Consumer<ByteBuffer> sink) {
        String name = spec.name();
        long[] shape = spec.shape();
        Rng rng = new Rng(seed, name);
        if (name.endsWith(".weight_packed")) {
            packed(shape, rng, sink);
        } else if (name.endsWith(".weight_scale")) {
            long cols = shape[1] * Int4Group32.GROUP;
            float std = linearStd(cols);
            // W = q * scale with std(q) = Q_STD: scale ~ std / Q_STD, jittered per group.
            bf16(spec.numel(), () -> roundTo5Bits(std / Q_STD * (0.75f + 0.5f * rng.uniform())), sink);
        } else if (name.endsWith(".weight_shape")) {
            String module = name.substring(0, name.length() - ".weight_shape".length());
            ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            long[] packed = layout.get(module + ".weight_packed").shape();
            b.putInt(Math.toIntExact(packed[0])).putInt(Math.toIntExact(packed[1] * Int4Group32.PER_WORD)).flip();
            sink.accept(b);
        } else if (name.endsWith("e_score_correction_bias")) {
            f32(spec.numel(), () -> 0.3f * rng.uniform(), sink);
        } else if (spec.dtype() != DType.BF16) {
            throw new IllegalArgumentException("demo weights: no generator for " + spec);
        } else if (shape.length == 1 && name.endsWith(".weight")) {
            bf16(spec.numel(), () -> 0.6f + 0.8f * rng.uniform(), sink); // RMSNorm / LayerNorm gains
        } else if (name.endsWith(".bias")) {
            normal(spec, 0.1f, rng, sink);
        } else if (name.endsWith("embed_tokens.weight")) {
            normal(spec, 1f, rng, sink);
        } else if (name.endsWith("lm_head.weight")) {
            // 0.3 as in the golden init, smaller for wide models so that logits stay in a samplable range.
            normal(spec, (float) Math.min(0.3, 2.4 / Math.sqrt(hiddenSize)), rng, sink);
        } else if (name.endsWith("mlp.gate.weight")) {
            normal(spec, 0.2f, rng, sink);
        } else if (name.endsWith("pos_emb.weight")) {
            normal(spec, 0.5f, rng, sink);
        } else {
            long fanIn = 1;
            for (int i = 1; i < shape.length; i++) {
                fanIn *= shape[i];
            }
            normal(spec, linearStd(fanIn), rng, sink);
        }
    }

    /** Standard deviation of {@link Rng#int4}'s values. */
    static final float Q_STD = (float) Math.sqrt(5);

    static float linearStd(long fanIn) {
        return (float) Math.clamp(1.6 / Math.sqrt(fanIn), 0.02, 0.3);
    }

    /** Keeps 5 significant bits, as the golden scales: then every {@code q * scale} is exact in bf16. */
    static float roundTo5Bits(float f) {
        int bits = Float.floatToRawIntBits(f);
        bits += 1 << 18; // round half up on the dropped bits
        return Float.intBitsToFloat(bits & ~((1 << 19) - 1));
    }

    private static void packed(long[] shape, Rng rng, Consumer<ByteBuffer> sink) {
        int rows = Math.toIntExact(shape[0]);
        int words = Math.toIntExact(shape[1]);
        int cols = words * Int4Group32.PER_WORD;
        int[] q = new int[cols];
        int rowsPerChunk = Math.max(1, CHUNK / cols);
        ByteBuffer buf = ByteBuffer.allocate(rowsPerChunk * words * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int r = 0; r < rows; r++) {
            rng.int4(q);
            for (int j = 0; j < words; j++) {
                buf.putInt(Int4Group32.packWord(q, j * Int4Group32.PER_WORD));
            }
            if (!buf.hasRemaining() || r == rows - 1) {
                sink.accept(buf.flip());
                buf.clear();
            }
        }
    }

    private static void normal(TensorSpec spec, float std, Rng rng, Consumer<ByteBuffer> sink) {
        bf16(spec.numel(), () -> std * rng.normal(), sink);
    }

    interface FloatSource {
        float next();
    }

    private static void bf16(long n, FloatSource src, Consumer<ByteBuffer> sink) {
        ByteBuffer buf = ByteBuffer.allocate((int) Math.min(n, CHUNK) * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (long i = 0; i < n; i++) {
            buf.putShort(toBf16(src.next()));
            if (!buf.hasRemaining()) {
                sink.accept(buf.flip());
                buf.clear();
            }
        }
        if (buf.position() > 0) {
            sink.accept(buf.flip());
        }
    }

    private static void f32(long n, FloatSource src, Consumer<ByteBuffer> sink) {
        ByteBuffer buf = ByteBuffer.allocate((int) Math.min(n, CHUNK) * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (long i = 0; i < n; i++) {
            buf.putFloat(src.next());
            if (!buf.hasRemaining()) {
                sink.accept(buf.flip());
                buf.clear();
            }
        }
        if (buf.position() > 0) {
            sink.accept(buf.flip());
        }
    }

    /** Round to nearest even (finite inputs only, which is all this class makes). */
    static short toBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        bits += 0x7FFF + ((bits >>> 16) & 1);
        return (short) (bits >>> 16);
    }

    /**
     * SplitMix64, written out because its output must never change between JDKs (the demo checkpoint is the same
     * bytes for a seed forever). Seeded per tensor from the seed and the tensor name's UTF-8 bytes.
     */
    static final class Rng {
        private long state;

        Rng(long seed, String name) {
            long h = seed * 0x9E3779B97F4A7C15L;
            for (byte b : name.getBytes(StandardCharsets.UTF_8)) {
                h = (h ^ (b & 0xFF)) * 0x100000001B3L;
            }
            state = h;
        }

        long nextLong() {
            long z = (state += 0x9E3779B97F4A7C15L);
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            return z ^ (z >>> 31);
        }

        /** Uniform in [0, 1). */
        float uniform() {
            return (nextLong() >>> 40) * 0x1p-24f;
        }

        /**
         * Fills {@code q} with INT4 values {@code a + b - c - d} of four uniform 2-bit draws: bell-shaped on [-6, 6]
         * with std {@link #Q_STD} = sqrt(5), from 8 random bits each (the bench preset draws billions of them).
         */
        void int4(int[] q) {
            long r = 0;
            for (int i = 0; i < q.length; i++) {
                if ((i & 7) == 0) {
                    r = nextLong();
                }
                q[i] = (int) ((r & 3) + ((r >>> 2) & 3) - ((r >>> 4) & 3) - ((r >>> 6) & 3));
                r >>>= 8;
            }
        }

        /** Approximately N(0, 1): the sum of four 16-bit uniforms, centred and scaled (Irwin-Hall; bounded at 3.46). */
        float normal() {
            long r = nextLong();
            int s = (int) (r & 0xFFFF) + (int) ((r >>> 16) & 0xFFFF) + (int) ((r >>> 32) & 0xFFFF) + (int) (r >>> 48);
            return (s * 0x1p-16f - 2f) * 1.7320508f;
        }
    }
}
