package io.peregrine.engine.runtime;

import io.peregrine.engine.config.RopeScaling;
import io.peregrine.engine.config.TextConfig;
import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.model.LanguageModel;
import io.peregrine.engine.model.SequenceSlice;
import io.peregrine.engine.parse.MarkerIds;
import io.peregrine.engine.sched.SchedulerConfig;
import io.peregrine.engine.tokenizer.KimiTokenizer;
import java.util.ArrayList;
import java.util.List;

/**
 * A stand-in decoder over the real 163,840-token Kimi vocabulary that would rather answer in plain text: it
 * strongly prefers one word token everywhere, reasons for three tokens and then closes {@code </think>} when the
 * context is in a think block, and once it sees {@code <|tool_call_argument_begin|>} it writes a scripted JSON
 * object and {@code <|tool_call_end|>}. Everything else gets small deterministic noise (seeded by position and
 * last token), so what a constraint leaves open is decided by the noise. The context is read back through the
 * cache (token id in latent slot 0), so it survives preemption like a real model.
 */
final class TextLovingModel implements LanguageModel {
    static final int VOCAB = 163_840;

    private final TextConfig config = new TextConfig(VOCAB, 8, 8, 8, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0,
            0, 1, 1, 1, false, 1.0, "sigmoid", "noaux_tc", 1e-6, 10000, RopeScaling.NONE, 4096, 0, 1, 0, false);
    private final MarkerIds m;
    private final int word;
    private final int[] json;

    /** @param word the token it loves; @param json the argument tokens it writes after the argument marker */
    TextLovingModel(MarkerIds markers, int word, int[] json) {
        this.m = markers;
        this.word = word;
        this.json = json.clone();
    }

    /** A serving engine over this model that ends choices at {@code <|im_end|>} / EOS and decodes with {@code tok}. */
    ServingEngine serve(KimiTokenizer tok) {
        return serve(new TokenDecoder() {
            @Override
            public byte[] bytes(int id) {
                return tok.tokenBytes(id);
            }

            @Override
            public boolean isSpecial(int id) {
                return tok.isSpecial(id);
            }
        });
    }

    /** The same engine decoding with {@code decoder}. */
    ServingEngine serve(TokenDecoder decoder) {
        EngineConfig cfg = new EngineConfig(new SchedulerConfig(8, 256), 1024, 100, List.of(m.imEnd(), m.eos()), false);
        return new ServingEngine(this, new LatentCache(1, 64, 16, 1), cfg, decoder, EngineListener.NONE);
    }

    @Override
    public TextConfig config() {
        return config;
    }

    @Override
    public List<float[][]> forward(List<SequenceSlice> batch, LatentCache cache) {
        float[] latent = new float[cache.width()];
        for (SequenceSlice s : batch) {
            for (int j = 0; j < s.tokens().length; j++) {
                latent[0] = s.tokens()[j];
                cache.write(0, cache.slot(s.blockTable(), s.startPos() + j), latent, 0);
            }
        }
        List<float[][]> out = new ArrayList<>(batch.size());
        for (SequenceSlice s : batch) {
            int p = s.endPos() - 1;
            int[] ctx = new int[p + 1];
            for (int q = 0; q <= p; q++) {
                ctx[q] = (int) io.peregrine.engine.backend.HostMemory.host(cache.slab(0)).data()[cache.slot(s.blockTable(), q) * cache.width()];
            }
            out.add(new float[][] {logits(ctx)});
        }
        return out;
    }

    float[] logits(int[] ctx) {
        int p = ctx.length - 1;
        float[] l = new float[VOCAB];
        long h = (p * 31L + ctx[p]) * 0x9E3779B97F4A7C15L;
        for (int v = 0; v < VOCAB; v++) {
            long x = (h + v) * 0xBF58476D1CE4E5B9L;
            x ^= x >>> 31;
            l[v] = (x >>> 40) / (float) (1 << 23); // [0, 2)
        }
        l[word] += 10;
        int think = lastIndexOf(ctx, m.thinkBegin());
        if (think >= 0 && lastIndexOf(ctx, m.thinkEnd()) < think && p - think >= 3) {
            l[m.thinkEnd()] += 20;
        }
        int arg = lastIndexOf(ctx, m.argumentBegin());
        if (arg >= 0 && p - arg < json.length) {
            l[json[p - arg]] += 30;
        } else if (arg >= 0 && p - arg == json.length) {
            l[m.callEnd()] += 30;
        }
        return l;
    }

    private static int lastIndexOf(int[] a, int t) {
        for (int i = a.length - 1; i >= 0; i--) {
            if (a[i] == t) {
                return i;
            }
        }
        return -1;
    }
}
