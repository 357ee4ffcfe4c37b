package io.peregrine.engine.runtime;

import io.peregrine.engine.sample.SamplingParams;
import io.peregrine.engine.sample.TokenLogprob;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * On the batch-invariant backend a seeded, sampled request gets the same tokens alone as in a crowd: prefilled in
 * one piece or in chunks beside other prompts, decoded in batches of one or of many (the real tiny model).
 */
class BatchInvariantEngineTest {
    private static TinyGolden tiny;

    @BeforeAll
    static void load() {
        tiny = new TinyGolden(true);
    }

    @AfterAll
    static void close() {
        tiny.close();
    }

    @Test
    void aSeededRequestSamplesTheSameTokensAloneAndInACrowd() throws Exception {
        SplittableRandom r = new SplittableRandom(5);
        int[] prompt = prompt(r, 37);
        // logprobs carry the raw logits' bits: tokens alone would rarely show a last-bit difference
        SamplingParams sampled = new SamplingParams(1.0, 1.0, 0, 0.0, 0.0, 0.0, 1.0, 1234L, 24, List.of(), List.of(),
                true, 5, 1);
        int[] alone;
        List<TokenLogprob> aloneLogprobs;
        try (ServingEngine engine = tiny.engine(256, 4, 16, 512, EngineListener.NONE)) {
            Recorder rec = new Recorder(1);
            engine.submit(new GenerationRequest("alone", prompt, sampled, null), rec);
            alone = rec.await().tokens(0);
            aloneLogprobs = logprobs(rec);
        }
        // a 20-token budget chunks every prompt and mixes prefill with decode; six neighbours change every batch
        try (ServingEngine engine = tiny.engine(256, 4, 16, 20, EngineListener.NONE)) {
            List<Recorder> crowd = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                Recorder rec = new Recorder(1);
                engine.submit(new GenerationRequest("n" + i, prompt(r, 5 + 9 * i), SamplingParams.greedy(6 + 5 * i),
                        null), rec);
                crowd.add(rec);
            }
            Recorder rec = new Recorder(1);
            engine.submit(new GenerationRequest("crowded", prompt, sampled, null), rec);
            assertArrayEquals(alone, rec.await().tokens(0));
            assertEquals(aloneLogprobs, logprobs(rec), "the same logits, bit for bit");
            for (Recorder c : crowd) {
                c.await();
            }
        }
    }

    private static List<TokenLogprob> logprobs(Recorder rec) {
        List<TokenLogprob> out = new ArrayList<>();
        for (EngineEvent e : rec.events()) {
            if (e instanceof EngineEvent.Tokens t) {
                out.addAll(t.logprobs());
            }
        }
        return out;
    }

    private static int[] prompt(SplittableRandom r, int length) {
        int[] p = new int[length];
        p[0] = TinyGolden.BOS;
        for (int i = 1; i < length; i++) {
            p[i] = r.nextInt(TinyGolden.FIRST_SPECIAL);
        }
        return p;
    }
}
