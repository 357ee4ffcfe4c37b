package io.peregrine.engine.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.checkpoint.DType;
import io.peregrine.engine.checkpoint.Int4Group32;
import io.peregrine.engine.checkpoint.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every {@link Backend} operation against a plain scalar reference written here (double accumulation, the
 * definitions and nothing else), on odd row counts, token counts around tile sizes, strided views at an offset
 * (every tensor is a window into a larger one) and batches that mix sequence lengths. It runs for every usable
 * backend on the class path (and its batch-invariant twin): the CPU backend always; the CUDA backend too where the
 * kernels module runs it on a machine with a device. Tolerance: {@value #REL} of the sum of the terms' magnitudes,
 * the fp32 bound any summation order meets.
 */
class BackendContractTest {
    static final double REL = 1e-4;

    static Stream<Named<Supplier<Backend>>> backends() {
        List<Named<Supplier<Backend>>> all = new ArrayList<>();
        for (BackendProvider p : Backends.providers()) {
            if (p.unavailableReason().isPresent()) {
                continue;
            }
            all.add(Named.of(p.name(), p::create));
            try (Backend b = p.createBatchInvariant()) {
                all.add(Named.of(p.name() + " batch-invariant", p::createBatchInvariant));
            } catch (UnsupportedOperationException e) {
                // no such mode: nothing more to check
            }
        }
        return all.stream();
    }

    @ParameterizedTest
    @MethodSource("backends")
    void bf16ProductsOverARowBand(Supplier<Backend> make) {
        try (Backend b = make.get()) {
            Random rnd = new Random(1);
            for (int[] s : new int[][] {{1, 8, 1}, {7, 40, 3}, {33, 136, 4}, {65, 1032, 5}, {300, 256, 9}}) {
                int rows = s[0], cols = s[1], n = s[2];
                Tensor t = bf16(rnd, rows, cols);
                LinearWeight w = b.upload(t);
                int row0 = rows / 3;
                int band = rows - row0;
                float[] x = floats(rnd, n * cols);
                Activation y = window(b, n, band);
                b.matmul(w, row0, put(b, x, n, cols), y);
                double[][] ref = new double[2][n * band];
                for (int tk = 0; tk < n; tk++) {
                    for (int r = 0; r < band; r++) {
                        for (int c = 0; c < cols; c++) {
                            double p = bf16(t, row0 + r, c) * x[tk * cols + c];
                            ref[0][tk * band + r] += p;
                            ref[1][tk * band + r] += Math.abs(p);
                        }
                    }
                }
                close(ref, get(b, y), "bf16 " + rows + "x" + cols + " n=" + n);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void int4Products(Supplier<Backend> make) {
        try (Backend b = make.get()) {
            Random rnd = new Random(2);
            for (int[] s : new int[][] {{1, 32, 1}, {7, 64, 4}, {33, 224, 5}, {65, 2048, 1}, {130, 512, 9}}) {
                int rows = s[0], cols = s[1], n = s[2];
                Int4Group32 q = int4(rnd, rows, cols);
                LinearWeight w = b.upload(q);
                float[] x = floats(rnd, n * cols);
                Activation y = window(b, n, rows);
                b.matmul(w, put(b, x, n, cols), y);
                close(product(q, x, n), get(b, y), "int4 " + rows + "x" + cols + " n=" + n);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void aBatchOfProductsEqualsEachAlone(Supplier<Backend> make) {
        try (Backend b = make.get()) {
            Random rnd = new Random(3);
            Object[] weights = {int4(rnd, 96, 256), bf16(rnd, 77, 136), int4(rnd, 5, 64), bf16(rnd, 300, 64), bf16(rnd, 9, 32)};
            int[] ns = {1, 3, 0, 6, 13};
            List<Product> products = new ArrayList<>();
            List<double[][]> refs = new ArrayList<>();
            for (int i = 0; i < weights.length; i++) {
                LinearWeight w = weights[i] instanceof Tensor t ? b.upload(t) : b.upload((Int4Group32) weights[i]);
                float[] x = floats(rnd, ns[i] * w.cols());
                products.add(new Product(w, put(b, x, ns[i], w.cols()), window(b, ns[i], w.rows())));
                refs.add(weights[i] instanceof Tensor t ? product(t, x, ns[i]) : product((Int4Group32) weights[i], x, ns[i]));
            }
            b.matmulAll(products);
            for (int i = 0; i < products.size(); i++) {
                close(refs.get(i), get(b, products.get(i).y()), "product " + i + " of the batch");
            }
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void perHeadProductsBothWays(Supplier<Backend> make) {
        try (Backend b = make.get()) {
            Random rnd = new Random(4);
            int heads = 5, headRows = 24, cols = 40, n = 3;
            Tensor t = bf16(rnd, heads * headRows, cols);
            LinearWeight w = b.upload(t);
            // W_UV-like: rows 14..23 of each head times that head's slice of x
            int row0 = 14, rows = 10;
            float[] x = floats(rnd, n * heads * cols);
            Activation y = window(b, n, heads * rows);
            b.matmulHeads(w, heads, headRows, row0, rows, put(b, x, n, heads * cols), y);
            double[][] ref = new double[2][n * heads * rows];
            for (int tk = 0; tk < n; tk++) {
                for (int h = 0; h < heads; h++) {
                    for (int r = 0; r < rows; r++) {
                        for (int c = 0; c < cols; c++) {
                            double p = bf16(t, h * headRows + row0 + r, c) * x[tk * heads * cols + h * cols + c];
                            ref[0][tk * heads * rows + h * rows + r] += p;
                            ref[1][tk * heads * rows + h * rows + r] += Math.abs(p);
                        }
                    }
                }
            }
            close(ref, get(b, y), "heads");
            // W_UK-like: x per head is rows 0..9 of a 12-wide head slice; y per head is every column
            int stride = 12;
            int band = 10;
            float[] xq = floats(rnd, n * heads * stride);
            Activation yq = window(b, n, heads * cols);
            b.matmulHeadsTransposed(w, heads, headRows, 3, band, put(b, xq, n, heads * stride), stride, yq);
            double[][] refT = new double[2][n * heads * cols];
            for (int tk = 0; tk < n; tk++) {
                for (int h = 0; h < heads; h++) {
                    for (int c = 0; c < cols; c++) {
                        for (int r = 0; r < band; r++) {
                            double p = xq[tk * heads * stride + h * stride + r] * bf16(t, h * headRows + 3 + r, c);
                            refT[0][tk * heads * cols + h * cols + c] += p;
                            refT[1][tk * heads * cols + h * cols + c] += Math.abs(p);
                        }
                    }
                }
            }
            close(refT, get(b, yq), "transposed heads");
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void rowWiseAndElementWise(Supplier<Backend> make) {
        try (Backend b = make.get()) {
            Random rnd = new Random(5);
            int n = 5, dim = 68;
            float[] x = floats(rnd, n * dim);
            float[] g = floats(rnd, dim);
            Activation out = window(b, n, dim);
            b.rmsNorm(put(b, x, n, dim), b.vector(g), 1e-6f, out);
            double[][] ref = new double[2][n * dim];
            for (int t = 0; t < n; t++) {
                double ss = 0;
                for (int c = 0; c < dim; c++) {
                    ss += (double) x[t * dim + c] * x[t * dim + c];
                }
                double inv = 1 / Math.sqrt(ss / dim + 1e-6);
                for (int c = 0; c < dim; c++) {
                    ref[0][t * dim + c] = x[t * dim + c] * inv * g[c];
                    ref[1][t * dim + c] = Math.abs(ref[0][t * dim + c]) * 4;
                }
            }
            close(ref, get(b, out), "rmsNorm");

            float[] up = floats(rnd, n * dim);
            Activation s = window(b, n, dim);
            b.siluMul(put(b, x, n, dim), put(b, up, n, dim), s);
            double[][] refS = new double[2][n * dim];
            for (int i = 0; i < n * dim; i++) {
                refS[0][i] = x[i] / (1 + Math.exp(-x[i])) * up[i];
                refS[1][i] = Math.abs(refS[0][i]) * 4;
            }
            close(refS, get(b, s), "siluMul");

            Activation acc = put(b, up, n, dim);
            b.add(put(b, x, n, dim), acc);
            double[][] refA = new double[2][n * dim];
            for (int i = 0; i < n * dim; i++) {
                refA[0][i] = (double) x[i] + up[i];
                refA[1][i] = Math.abs(x[i]) + Math.abs(up[i]);
            }
            close(refA, get(b, acc), "add");
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void ropeRotatesEveryHeadAtItsTokensPosition(Supplier<Backend> make) {
        try (Backend b = make.get()) {
            Random rnd = new Random(6);
            int n = 3, heads = 3, headStride = 12, nope = 4, pairs = 4, width = heads * headStride;
            float[] x = floats(rnd, n * width);
            float[] inv = new float[pairs];
            for (int i = 0; i < pairs; i++) {
                inv[i] = (float) Math.pow(10000, -2.0 * i / (2 * pairs));
            }
            int[] pos = {0, 17, 4093};
            Activation t = put(b, x, n, width);
            b.ropeInterleaved(t.cols(nope, width - nope), heads, headStride, indices(b, pos), b.vector(inv), 1.25f);
            double[][] ref = new double[2][n * width];
            for (int i = 0; i < n * width; i++) {
                ref[0][i] = x[i];
                ref[1][i] = Math.abs(x[i]) * 4;
            }
            for (int tk = 0; tk < n; tk++) {
                for (int h = 0; h < heads; h++) {
                    for (int i = 0; i < pairs; i++) {
                        int at = tk * width + h * headStride + nope + 2 * i;
                        double angle = (float) (pos[tk] * inv[i]);
                        double c = Math.cos(angle) * 1.25, sn = Math.sin(angle) * 1.25;
                        ref[0][at] = x[at] * c - x[at + 1] * sn;
                        ref[0][at + 1] = x[at] * sn + x[at + 1] * c;
                    }
                }
            }
            close(ref, get(b, t), "rope");
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void rowMovesAndEmbedding(Supplier<Backend> make) {
        try (Backend b = make.get()) {
            Random rnd = new Random(7);
            int vocab = 50, dim = 40;
            Tensor table = bf16(rnd, vocab, dim);
            int[] ids = {3, 0, 49, 3, 17};
            Activation e = window(b, ids.length, dim);
            b.embed(b.upload(table), indices(b, ids), e);
            float[] got = get(b, e);
            for (int t = 0; t < ids.length; t++) {
                for (int c = 0; c < dim; c++) {
                    assertEquals(bf16(table, ids[t], c), got[t * dim + c], 0f, "embedding row " + t);
                }
            }

            int rows = 7, cols = 13;
            float[] src = floats(rnd, rows * cols);
            int[] pick = {6, 0, 3, 3};
            Activation gathered = window(b, pick.length, cols);
            b.gatherRows(put(b, src, rows, cols), indices(b, pick), gathered);
            float[] g = get(b, gathered);
            for (int i = 0; i < pick.length; i++) {
                assertArrayEquals(java.util.Arrays.copyOfRange(src, pick[i] * cols, (pick[i] + 1) * cols),
                        java.util.Arrays.copyOfRange(g, i * cols, (i + 1) * cols), "gathered row " + i);
            }

            float[] base = floats(rnd, rows * cols);
            float[] moved = floats(rnd, 3 * cols);
            int[] to = {5, 1, 2};
            Activation dst = put(b, base, rows, cols);
            b.scatterRows(put(b, moved, 3, cols), indices(b, to), dst);
            float[] expect = base.clone();
            for (int i = 0; i < to.length; i++) {
                System.arraycopy(moved, i * cols, expect, to[i] * cols, cols);
            }
            assertArrayEquals(expect, get(b, dst), "scattered rows");

            // the MoE combine: rows may repeat, added in order
            int[] into = {2, 6, 2, 0};
            float[] scale = {0.5f, -1.25f, 2f, 0.125f};
            float[] parts = floats(rnd, into.length * cols);
            Activation sum = put(b, base, rows, cols);
            b.scatterAddScaled(put(b, parts, into.length, cols), indices(b, into), b.vector(scale), sum);
            double[][] ref = new double[2][rows * cols];
            for (int i = 0; i < rows * cols; i++) {
                ref[0][i] = base[i];
                ref[1][i] = Math.abs(base[i]);
            }
            for (int i = 0; i < into.length; i++) {
                for (int c = 0; c < cols; c++) {
                    double p = (double) scale[i] * parts[i * cols + c];
                    ref[0][into[i] * cols + c] += p;
                    ref[1][into[i] * cols + c] += Math.abs(p);
                }
            }
            close(ref, get(b, sum), "scatter-add");
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void copiesInOutAndBetweenViews(Supplier<Backend> make) {
        try (Backend b = make.get()) {
            Random rnd = new Random(8);
            float[] x = floats(rnd, 4 * 9);
            Activation a = put(b, x, 4, 9);
            assertArrayEquals(x, get(b, a), "copy in, copy out");
            Activation c = window(b, 4, 9);
            b.copy(a, c);
            assertArrayEquals(x, get(b, c), "copy between strided views");
            b.zero(c.rows(1, 2));
            float[] z = get(b, c);
            for (int i = 0; i < 36; i++) {
                assertEquals(i >= 9 && i < 27 ? 0f : x[i], z[i], "zeroed rows 1..2 only, element " + i);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void naiveAttentionOverOneSequence(Supplier<Backend> make) {
        try (Backend b = make.get()) {
            Random rnd = new Random(9);
            int heads = 3, nope = 8, rope = 4, vDim = 8, start = 5, tokens = 4, positions = start + tokens;
            int qk = nope + rope;
            float scale = 0.3f;
            float[] q = floats(rnd, tokens * heads * qk);
            float[] kv = floats(rnd, positions * heads * (nope + vDim));
            float[] lat = floats(rnd, positions * (16 + rope));
            Activation kPe = put(b, lat, positions, 16 + rope).cols(16, rope);
            Activation out = b.allocate(tokens, heads * vDim);
            Activation kvT = b.allocate(positions, heads * (nope + vDim));
            b.copyIn(kv, 0, kvT);
            Activation qT = b.allocate(tokens + 2, heads * qk).rows(1, tokens);
            b.copyIn(q, 0, qT);
            b.attentionNaive(qT, start, kvT, kPe, heads, nope, rope, vDim, scale, out);
            double[][] ref = new double[2][tokens * heads * vDim];
            for (int t = 0; t < tokens; t++) {
                for (int h = 0; h < heads; h++) {
                    int ctx = start + t + 1;
                    double[] p = new double[ctx];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int s = 0; s < ctx; s++) {
                        double d = 0;
                        for (int i = 0; i < nope; i++) {
                            d += (double) q[(t * heads + h) * qk + i] * kv[(s * heads + h) * (nope + vDim) + i];
                        }
                        for (int i = 0; i < rope; i++) {
                            d += (double) q[(t * heads + h) * qk + nope + i] * lat[s * (16 + rope) + 16 + i];
                        }
                        p[s] = d * scale;
                        max = Math.max(max, p[s]);
                    }
                    softmax(p, max);
                    for (int s = 0; s < ctx; s++) {
                        for (int i = 0; i < vDim; i++) {
                            double v = p[s] * kv[(s * heads + h) * (nope + vDim) + nope + i];
                            ref[0][(t * heads + h) * vDim + i] += v;
                            ref[1][(t * heads + h) * vDim + i] += Math.abs(v) * 8;
                        }
                    }
                }
            }
            close(ref, get(b, out), "naive attention");
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void absorbedAttentionOverABatchOfContexts(Supplier<Backend> make) {
        try (Backend b = make.get()) {
            Random rnd = new Random(10);
            int heads = 3, rank = 16, rope = 4, width = rank + rope, slabRows = 40, qkStride = 12;
            int[] lengths = {1, 7, 20};
            int n = lengths.length;
            float scale = 0.2f;
            float[] slab = floats(rnd, slabRows * width);
            int[] starts = new int[n + 1];
            for (int t = 0; t < n; t++) {
                starts[t + 1] = starts[t] + lengths[t];
            }
            int[] slots = new int[starts[n]];
            for (int i = 0; i < slots.length; i++) {
                slots[i] = rnd.nextInt(slabRows);
            }
            float[] qLat = floats(rnd, n * heads * rank);
            float[] qPe = floats(rnd, n * heads * qkStride);
            Activation out = window(b, n, heads * rank);
            Activation qPeT = put(b, qPe, n, heads * qkStride).cols(8, heads * qkStride - 8);
            b.attentionAbsorbed(put(b, qLat, n, heads * rank), qPeT, qkStride, heads, put(b, slab, slabRows, width),
                    indices(b, slots), indices(b, starts), scale, out);
            double[][] ref = new double[2][n * heads * rank];
            for (int t = 0; t < n; t++) {
                for (int h = 0; h < heads; h++) {
                    double[] p = new double[lengths[t]];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int s = 0; s < lengths[t]; s++) {
                        int row = slots[starts[t] + s];
                        double d = 0;
                        for (int i = 0; i < rank; i++) {
                            d += (double) qLat[(t * heads + h) * rank + i] * slab[row * width + i];
                        }
                        for (int i = 0; i < rope; i++) {
                            d += (double) qPe[t * heads * qkStride + 8 + h * qkStride + i] * slab[row * width + rank + i];
                        }
                        p[s] = d * scale;
                        max = Math.max(max, p[s]);
                    }
                    softmax(p, max);
                    for (int s = 0; s < lengths[t]; s++) {
                        int row = slots[starts[t] + s];
                        for (int i = 0; i < rank; i++) {
                            double v = p[s] * slab[row * width + i];
                            ref[0][(t * heads + h) * rank + i] += v;
                            ref[1][(t * heads + h) * rank + i] += Math.abs(v) * 8;
                        }
                    }
                }
            }
            close(ref, get(b, out), "absorbed attention");
        }
    }

    // ---- the vision tower's operations (issue 24) -------------------------------------------------------------

    @ParameterizedTest
    @MethodSource("backends")
    void layerNormBiasAndGelu(Supplier<Backend> make) {
        try (Backend b = make.get()) {
            Random rnd = new Random(11);
            for (int[] s : new int[][] {{1, 8}, {7, 36}, {13, 1152}, {3, 101}}) {
                int n = s[0], dim = s[1];
                float[] x = floats(rnd, n * dim);
                for (int i = 0; i < x.length; i++) {
                    x[i] = 3 * x[i] + 1.5f; // an offset mean, so centring matters
                }
                float[] g = floats(rnd, dim);
                float[] bias = floats(rnd, dim);
                Activation out = window(b, n, dim);
                b.layerNorm(put(b, x, n, dim), b.vector(g), b.vector(bias), 1e-5f, out);
                double[][] ref = new double[2][n * dim];
                for (int t = 0; t < n; t++) {
                    double mean = 0;
                    for (int c = 0; c < dim; c++) {
                        mean += x[t * dim + c];
                    }
                    mean /= dim;
                    double var = 0;
                    for (int c = 0; c < dim; c++) {
                        var += (x[t * dim + c] - mean) * (x[t * dim + c] - mean);
                    }
                    double inv = 1 / Math.sqrt(var / dim + 1e-5);
                    for (int c = 0; c < dim; c++) {
                        double scaled = (x[t * dim + c] - mean) * inv * g[c];
                        ref[0][t * dim + c] = scaled + bias[c];
                        ref[1][t * dim + c] = (Math.abs(scaled) + Math.abs(bias[c])) * 4;
                    }
                }
                close(ref, get(b, out), "layerNorm " + n + "x" + dim);

                Activation y = put(b, x, n, dim);
                b.addBias(b.vector(bias), y);
                double[][] refB = new double[2][n * dim];
                for (int i = 0; i < n * dim; i++) {
                    refB[0][i] = (double) x[i] + bias[i % dim];
                    refB[1][i] = Math.abs(x[i]) + Math.abs(bias[i % dim]);
                }
                close(refB, get(b, y), "addBias");

                for (Gelu form : Gelu.values()) {
                    Activation gOut = window(b, n, dim);
                    b.gelu(put(b, x, n, dim), form, gOut);
                    double[][] refG = new double[2][n * dim];
                    for (int i = 0; i < n * dim; i++) {
                        double v = x[i];
                        refG[0][i] = form == Gelu.TANH
                                ? 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)))
                                : 0.5 * v * (1 + erf(v / Math.sqrt(2)));
                        refG[1][i] = Math.abs(refG[0][i]) * 4;
                    }
                    close(refG, get(b, gOut), "gelu " + form);
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void rotatePairsByPerRowAngles(Supplier<Backend> make) {
        try (Backend b = make.get()) {
            Random rnd = new Random(12);
            int n = 9, heads = 3, headStride = 22, pairs = 9, cols = 70;
            float[] x = floats(rnd, n * cols);
            float[] cos = new float[n * pairs];
            float[] sin = new float[n * pairs];
            for (int i = 0; i < cos.length; i++) {
                double a = rnd.nextDouble() * 20 - 10;
                cos[i] = (float) Math.cos(a);
                sin[i] = (float) Math.sin(a);
            }
            Activation xa = put(b, x, n, cols);
            b.rotatePairs(xa, heads, headStride, put(b, cos, n, pairs), put(b, sin, n, pairs));
            double[][] ref = new double[2][n * cols];
            for (int i = 0; i < n * cols; i++) {
                ref[0][i] = x[i];
                ref[1][i] = Math.abs(x[i]);
            }
            for (int t = 0; t < n; t++) {
                for (int h = 0; h < heads; h++) {
                    for (int i = 0; i < pairs; i++) {
                        int at = t * cols + h * headStride + 2 * i;
                        double c = cos[t * pairs + i], si = sin[t * pairs + i];
                        ref[0][at] = x[at] * c - x[at + 1] * si;
                        ref[0][at + 1] = x[at] * si + x[at + 1] * c;
                        ref[1][at] = ref[1][at + 1] = Math.abs(x[at]) + Math.abs(x[at + 1]);
                    }
                }
            }
            close(ref, get(b, xa), "rotatePairs");
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void attentionInsideSegments(Supplier<Backend> make) {
        try (Backend b = make.get()) {
            Random rnd = new Random(13);
            for (int[] bounds : new int[][] {{0, 1}, {0, 37}, {0, 5, 5, 69, 70}, {0, 16, 113, 130}}) {
                int heads = 3, headDim = 20, cols = heads * headDim;
                int rows = bounds[bounds.length - 1];
                float[] qkv = floats(rnd, rows * 3 * cols);
                Activation packed = put(b, qkv, rows, 3 * cols);
                Activation out = window(b, rows, cols);
                float scale = (float) (1 / Math.sqrt(headDim));
                b.attentionSegments(packed.cols(0, cols), packed.cols(cols, cols), packed.cols(2 * cols, cols), heads,
                        indices(b, bounds), scale, out);
                double[][] ref = new double[2][rows * cols];
                for (int s = 0; s + 1 < bounds.length; s++) {
                    int from = bounds[s], len = bounds[s + 1] - from;
                    for (int t = from; t < from + len; t++) {
                        for (int h = 0; h < heads; h++) {
                            double[] p = new double[len];
                            double max = Double.NEGATIVE_INFINITY;
                            for (int j = 0; j < len; j++) {
                                double d = 0;
                                for (int c = 0; c < headDim; c++) {
                                    d += (double) qkv[t * 3 * cols + h * headDim + c]
                                            * qkv[(from + j) * 3 * cols + cols + h * headDim + c];
                                }
                                p[j] = d * scale;
                                max = Math.max(max, p[j]);
                            }
                            softmax(p, max);
                            for (int c = 0; c < headDim; c++) {
                                for (int j = 0; j < len; j++) {
                                    double term = p[j] * qkv[(from + j) * 3 * cols + 2 * cols + h * headDim + c];
                                    ref[0][t * cols + h * headDim + c] += term;
                                    ref[1][t * cols + h * headDim + c] += Math.abs(term);
                                }
                            }
                        }
                    }
                }
                close(ref, get(b, out), "segments " + java.util.Arrays.toString(bounds));
            }
        }
    }

    /** erf by Simpson's rule on 2/√π·exp(−t²) (2000 panels: ~1e-13), independent of any backend's approximation. */
    private static double erf(double x) {
        int panels = 2000;
        double h = x / panels;
        double sum = 1 + Math.exp(-x * x);
        for (int i = 1; i < panels; i++) {
            double t = i * h;
            sum += (i % 2 == 1 ? 4 : 2) * Math.exp(-t * t);
        }
        return 2 / Math.sqrt(Math.PI) * sum * h / 3;
    }

    /**
     * The whole MoE block against a plain reading of spec §3.3: routing (sigmoid, bias to choose, group limit, top-k
     * with ties to the lower index, normalised and scaled weights) and every chosen expert's SwiGLU in double. Token
     * counts 1..9 (most experts get no token at one), a shard's sub-range of experts, none (the shared expert alone) and the whole range, planted
     * exact ties, BF16 and INT4 experts, with and without a shared expert; one scratch serves calls of different
     * sizes, and the output window starts as NaN (the operation writes it whole).
     */
    @ParameterizedTest
    @MethodSource("backends")
    void moeRoutesAndCombinesLikeTheSpec(Supplier<Backend> make) {
        try (Backend b = make.get()) {
            Random rnd = new Random(11);
            int experts = 12, hidden = 64, inter = 32, sharedInter = 64;
            // {nGroup, topkGroup, k, firstExpert, heldExperts, int4, shared}
            int[][] cases = {{1, 1, 3, 0, 12, 1, 1}, {1, 1, 3, 4, 5, 1, 1}, {1, 1, 2, 0, 12, 0, 0}, {1, 1, 1, 7, 5, 0, 1},
                    {4, 2, 3, 0, 12, 1, 1}, {3, 3, 4, 2, 6, 1, 0}, {1, 1, 2, 12, 0, 1, 1}};
            for (int[] c : cases) {
                MoeRouter router = new MoeRouter(experts, c[0], c[1], c[2], c[2] != 2, c[2] == 2 ? 1f : 2.5f);
                int first = c[3], held = c[4];
                boolean int4 = c[5] == 1;
                Object[][] w = new Object[held][];
                List<LinearWeight> gate = new ArrayList<>(), up = new ArrayList<>(), down = new ArrayList<>();
                for (int e = 0; e < held; e++) {
                    w[e] = new Object[] {weight(rnd, int4, inter, hidden), weight(rnd, int4, inter, hidden),
                            weight(rnd, int4, hidden, inter)};
                    gate.add(upload(b, w[e][0]));
                    up.add(upload(b, w[e][1]));
                    down.add(upload(b, w[e][2]));
                }
                Tensor[] sw = c[6] == 1 ? new Tensor[] {bf16(rnd, sharedInter, hidden), bf16(rnd, sharedInter, hidden),
                        bf16(rnd, hidden, sharedInter)} : null;
                float[] bias = new float[experts];
                for (int e = 0; e < experts; e++) {
                    bias[e] = 0.002f * rnd.nextInt(5);
                }
                MoeBlock block = new MoeBlock(router, b.vector(bias), b.stackExperts(first, gate, up, down),
                        sw == null ? null : b.upload(sw[0]), sw == null ? null : b.upload(sw[1]),
                        sw == null ? null : b.upload(sw[2]));
                MoeScratch scratch;
                try {
                    scratch = b.moeScratch(block, 9);
                } catch (IllegalArgumentException refused) {
                    // a device router may refuse group-limited routing, saying so; the CPU reference never does
                    assertTrue(!b.name().startsWith("cpu") && c[0] != c[1] && refused.getMessage().contains("group"),
                            refused.getMessage());
                    continue;
                }
                for (int n : new int[] {1, 2, 9, 5}) {
                    float[] logits = new float[n * experts];
                    for (int t = 0; t < n; t++) {
                        int[] perm = permutation(rnd, experts);
                        for (int e = 0; e < experts; e++) {
                            logits[t * experts + e] = 0.25f * (perm[e] - experts / 2f);  // well apart
                        }
                        // an exact tie between two experts (same logit, same bias): the lower index goes first
                        int a = rnd.nextInt(experts), z = rnd.nextInt(experts);
                        logits[t * experts + z] = logits[t * experts + a];
                        if (bias[z] != bias[a]) {
                            logits[t * experts + z] = logits[t * experts + a] = 3f;
                            bias[z] = bias[a];
                        }
                    }
                    b.copyIn(bias, 0, block.bias());
                    float[] x = floats(rnd, n * hidden);
                    Activation out = window(b, n, hidden);
                    float[] nan = new float[n * hidden];
                    java.util.Arrays.fill(nan, Float.NaN);
                    b.copyIn(nan, 0, out);
                    b.moe(block, put(b, x, n, hidden), put(b, logits, n, experts), scratch, out);

                    int k = router.topK();
                    int[] idx = new int[n * k];
                    double[] weight = new double[n * k];
                    for (int t = 0; t < n; t++) {
                        route(router, logits, t, bias, idx, weight);
                    }
                    int[] chosen = new int[n * k];
                    b.copyOut(scratch.chosen(n), chosen, 0);
                    assertArrayEquals(idx, chosen, "routing " + java.util.Arrays.toString(c) + " n=" + n);
                    float[] gotWeight = new float[n * k];
                    b.copyOut(scratch.weights(n), gotWeight, 0);
                    for (int i = 0; i < n * k; i++) {
                        assertEquals(weight[i], gotWeight[i], 1e-5 * Math.abs(weight[i]) + 1e-7, "weight " + i);
                    }
                    double[][] ref = new double[2][n * hidden];
                    for (int t = 0; t < n; t++) {
                        if (sw != null) {
                            swiglu(sw, x, t, hidden, 1, ref, t * hidden);
                        }
                        for (int j = 0; j < k; j++) {
                            int e = idx[t * k + j];
                            if (e >= first && e < first + held) {
                                swiglu(w[e - first], x, t, hidden, weight[t * k + j], ref, t * hidden);
                            }
                        }
                    }
                    close(ref, get(b, out), "moe " + java.util.Arrays.toString(c) + " n=" + n);
                }
            }
        }
    }

    /** The spec's routing for token {@code t}, scores and sums in double. */
    private static void route(MoeRouter r, float[] logits, int t, float[] bias, int[] idx, double[] weight) {
        int experts = r.experts();
        double[] score = new double[experts];
        double[] choice = new double[experts];
        for (int e = 0; e < experts; e++) {
            score[e] = 1 / (1 + Math.exp(-logits[t * experts + e]));
            choice[e] = score[e] + bias[e];
        }
        int per = experts / r.nGroup();
        Integer[] groups = new Integer[r.nGroup()];
        double[] groupScore = new double[r.nGroup()];
        for (int g = 0; g < r.nGroup(); g++) {
            groups[g] = g;
            double[] in = java.util.Arrays.copyOfRange(choice, g * per, (g + 1) * per);
            java.util.Arrays.sort(in);
            groupScore[g] = in[per - 1] + (per >= 2 ? in[per - 2] : 0);
        }
        java.util.Arrays.sort(groups, (p, q) -> groupScore[p] != groupScore[q]
                ? Double.compare(groupScore[q], groupScore[p]) : Integer.compare(p, q));
        List<Integer> allowed = new ArrayList<>();
        for (int e = 0; e < experts; e++) {
            for (int g = 0; g < r.topkGroup(); g++) {
                if (e / per == groups[g]) {
                    allowed.add(e);
                }
            }
        }
        allowed.sort((p, q) -> choice[p] != choice[q] ? Double.compare(choice[q], choice[p]) : Integer.compare(p, q));
        double sum = 0;
        for (int j = 0; j < r.topK(); j++) {
            idx[t * r.topK() + j] = allowed.get(j);
            sum += score[allowed.get(j)];
        }
        for (int j = 0; j < r.topK(); j++) {
            double s = score[idx[t * r.topK() + j]];
            weight[t * r.topK() + j] = (r.normTopkProb() && r.topK() > 1 ? s / sum : s) * r.scaling();
        }
    }

    /**
     * Adds {@code scale · down(silu(gate(x_t)) ⊙ up(x_t))} into {@code ref[0]} at {@code at}, and into {@code ref[1]}
     * the magnitude an fp32 evaluation's error scales with (each term of down, its input's error carried through).
     */
    private static void swiglu(Object[] w, float[] x, int t, int hidden, double scale, double[][] ref, int at) {
        int inter = rows(w[0]);
        double[] h = new double[inter];
        double[] hMag = new double[inter];
        for (int r = 0; r < inter; r++) {
            double g = 0, u = 0, gm = 0, um = 0;
            for (int c = 0; c < hidden; c++) {
                double gp = at(w[0], r, c) * x[t * hidden + c];
                double upp = at(w[1], r, c) * x[t * hidden + c];
                g += gp;
                u += upp;
                gm += Math.abs(gp);
                um += Math.abs(upp);
            }
            double silu = g / (1 + Math.exp(-g));
            h[r] = silu * u;
            hMag[r] = Math.abs(h[r]) + (Math.abs(u) * gm + Math.abs(silu) * um) * 1.2;
        }
        for (int r = 0; r < hidden; r++) {
            for (int c = 0; c < inter; c++) {
                ref[0][at + r] += scale * at(w[2], r, c) * h[c];
                ref[1][at + r] += Math.abs(scale * at(w[2], r, c)) * hMag[c];
            }
        }
    }

    private static int[] permutation(Random rnd, int n) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int tmp = p[i];
            p[i] = p[j];
            p[j] = tmp;
        }
        return p;
    }

    private static Object weight(Random rnd, boolean int4, int rows, int cols) {
        return int4 ? int4(rnd, rows, cols) : bf16(rnd, rows, cols);
    }

    private static LinearWeight upload(Backend b, Object w) {
        return w instanceof Tensor t ? b.upload(t) : b.upload((Int4Group32) w);
    }

    private static int rows(Object w) {
        return w instanceof Tensor t ? (int) t.dim(0) : ((Int4Group32) w).rows();
    }

    private static double at(Object w, int r, int c) {
        return w instanceof Tensor t ? bf16(t, r, c) : ((Int4Group32) w).dequant(r, c);
    }
    // ---- the plain references and the tensors they are compared on --------------------------------------------

    private static void softmax(double[] p, double max) {
        double sum = 0;
        for (int s = 0; s < p.length; s++) {
            p[s] = Math.exp(p[s] - max);
            sum += p[s];
        }
        for (int s = 0; s < p.length; s++) {
            p[s] /= sum;
        }
    }

    private static double[][] product(Tensor t, float[] x, int n) {
        int rows = (int) t.dim(0), cols = (int) t.dim(1);
        double[][] ref = new double[2][n * rows];
        for (int tk = 0; tk < n; tk++) {
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) {
                    double p = bf16(t, r, c) * x[tk * cols + c];
                    ref[0][tk * rows + r] += p;
                    ref[1][tk * rows + r] += Math.abs(p);
                }
            }
        }
        return ref;
    }

    private static double[][] product(Int4Group32 q, float[] x, int n) {
        double[][] ref = new double[2][n * q.rows()];
        for (int tk = 0; tk < n; tk++) {
            for (int r = 0; r < q.rows(); r++) {
                for (int c = 0; c < q.cols(); c++) {
                    double p = (double) q.dequant(r, c) * x[tk * q.cols() + c];
                    ref[0][tk * q.rows() + r] += p;
                    ref[1][tk * q.rows() + r] += Math.abs(p);
                }
            }
        }
        return ref;
    }

    /** {@code ref[0]} the values, {@code ref[1]} the sum of the magnitudes of their terms. */
    private static void close(double[][] ref, float[] got, String what) {
        assertEquals(ref[0].length, got.length, what + ": length");
        for (int i = 0; i < got.length; i++) {
            double bound = REL * ref[1][i] + 1e-6;
            double err = Math.abs(got[i] - ref[0][i]);
            assertTrue(err <= bound, () -> what + ": element " + "of " + got.length + " is off by " + err + " > " + bound);
        }
    }

    /** {@code host} uploaded into a window of a larger tensor: rows from 1, columns from 4 (strided, 16-byte aligned). */
    private static Activation put(Backend b, float[] host, int rows, int cols) {
        Activation w = window(b, rows, cols);
        b.copyIn(host, 0, w);
        return w;
    }

    private static Activation window(Backend b, int rows, int cols) {
        return b.allocate(rows + 2, cols + 8).rows(1, rows).cols(4, cols);
    }

    private static float[] get(Backend b, Activation a) {
        float[] host = new float[a.rows() * a.cols()];
        b.copyOut(a, host, 0);
        return host;
    }

    private static Indices indices(Backend b, int[] values) {
        Indices i = b.allocateIndices(values.length + 3).slice(2, values.length);
        b.copyIn(values, 0, i);
        return i;
    }

    private static float[] floats(Random rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return x;
    }

    private static float bf16(Tensor t, int r, int c) {
        return Float.intBitsToFloat(t.data().getAtIndex(Tensor.BF16, r * t.dim(1) + c) << 16);
    }

    private static Tensor bf16(Random rnd, int rows, int cols) {
        MemorySegment seg = Arena.ofAuto().allocate((long) rows * cols * 2, 2);
        for (long i = 0; i < (long) rows * cols; i++) {
            seg.setAtIndex(Tensor.BF16, i, (short) (Float.floatToRawIntBits((float) rnd.nextGaussian()) >>> 16));
        }
        return new Tensor("w", DType.BF16, new long[] {rows, cols}, seg);
    }

    private static Int4Group32 int4(Random rnd, int rows, int cols) {
        MemorySegment packed = Arena.ofAuto().allocate((long) rows * cols / 2, 4);
        for (long i = 0; i < (long) rows * cols / 8; i++) {
            packed.setAtIndex(Tensor.I32, i, rnd.nextInt());
        }
        int groups = cols / 32;
        MemorySegment scale = Arena.ofAuto().allocate((long) rows * groups * 2, 2);
        for (long i = 0; i < (long) rows * groups; i++) {
            float s = (float) (0.01 + 0.1 * rnd.nextDouble());
            scale.setAtIndex(Tensor.BF16, i, (short) (Float.floatToRawIntBits(s) >>> 16));
        }
        return new Int4Group32("w", rows, cols,
                new Tensor("w.weight_packed", DType.I32, new long[] {rows, cols / 8}, packed),
                new Tensor("w.weight_scale", DType.BF16, new long[] {rows, groups}, scale));
    }
}
