package io.peregrine.server.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Seeded random prompts of about {@code inputLen} tokens. vLLM draws random token ids and decodes them with the
 * model's tokenizer; a client for any server has no tokenizer, so this draws common lower-case English words,
 * each a single token in tiktoken-style vocabularies (Kimi's included) when preceded by a space. Lengths vary
 * uniformly within ±rangeRatio as in vLLM's random dataset.
 */
public final class RandomPrompts {
    static final String[] WORDS = ("the of and to in is was for on that with as by at from his her an "
            + "were are which this be or had not but one all have new first can more their also after two has "
            + "other into when there time who some only over such most its may many these then city would up "
            + "made world year years about where she out so they used state like him part through three between "
            + "each during school because well being same both before under while since called known later "
            + "number several four high people any own main early life work name now long way system "
            + "water house day back end game line area place small great music film book power light river "
            + "road team war story point group case order side king form field land rest head black white")
            .split(" ");

    private RandomPrompts() {}

    public static List<BenchPrompt> generate(int count, int inputLen, int outputLen, double rangeRatio, long seed) {
        if (count < 1 || inputLen < 1 || outputLen < 1) {
            throw new IllegalArgumentException("random prompts need count, input and output lengths >= 1, got "
                    + count + ", " + inputLen + ", " + outputLen);
        }
        if (rangeRatio < 0 || rangeRatio >= 1) {
            throw new IllegalArgumentException("range ratio must be in [0, 1), got " + rangeRatio);
        }
        Random r = new Random(seed);
        List<BenchPrompt> prompts = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            int in = draw(r, inputLen, rangeRatio);
            int out = draw(r, outputLen, rangeRatio);
            StringBuilder sb = new StringBuilder(in * 6);
            for (int w = 0; w < in; w++) {
                if (w > 0) {
                    sb.append(' ');
                }
                sb.append(WORDS[r.nextInt(WORDS.length)]);
            }
            prompts.add(new BenchPrompt(sb.toString(), in, out));
        }
        return prompts;
    }

    private static int draw(Random r, int center, double ratio) {
        int lo = Math.max(1, (int) Math.floor(center * (1 - ratio)));
        int hi = Math.max(lo, (int) Math.ceil(center * (1 + ratio)));
        return lo + r.nextInt(hi - lo + 1);
    }
}
