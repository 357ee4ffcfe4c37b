package io.peregrine.engine.runtime;

import static io.peregrine.engine.runtime.EngineHarness.awaitIdle;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.backend.cpu.CpuBackend;
import io.peregrine.engine.config.TextConfig;
import io.peregrine.engine.model.ExpertPlacement;
import io.peregrine.engine.model.KimiTextModel;
import io.peregrine.engine.sample.SamplingParams;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The serving engine over a model whose routed experts are split across two CPU backends (issue 20; a per-layer mix:
 * the odd experts of the first MoE layer and every expert of the others on the "host"): all golden cases at once in a
 * cache too small for them, so the steps are mixed prefill/decode batches and some sequences are preempted and
 * recomputed. Every case's greedy ids are the reference's.
 */
class HybridExpertsEngineTest {
    private static CpuBackend host;
    private static TinyGolden tiny;

    @BeforeAll
    static void load() {
        host = new CpuBackend(2);
        tiny = new TinyGolden(false, (ck, primary) -> {
            TextConfig c = ck.config().text();
            boolean[][] onHost = new boolean[c.numHiddenLayers()][];
            boolean firstMoe = true;
            for (int l = 0; l < onHost.length; l++) {
                onHost[l] = new boolean[c.isMoeLayer(l) ? c.nRoutedExperts() : 0];
                for (int e = 0; e < onHost[l].length; e++) {
                    onHost[l][e] = !firstMoe || e % 2 == 1;
                }
                firstMoe &= !c.isMoeLayer(l);
            }
            return KimiTextModel.load(ck, primary, host, ExpertPlacement.of(c, onHost), p -> { });
        });
    }

    @AfterAll
    static void close() {
        tiny.close();
        host.close();
    }

    @Test
    void goldenIdsInMixedBatchesUnderPreemption() throws Exception {
        AtomicInteger preemptions = new AtomicInteger();
        AtomicInteger mixedSteps = new AtomicInteger();
        EngineListener counting = new EngineListener() {
            @Override
            public void step(int sequences, int tokens, long nanos) {
                if (sequences > 1 && tokens > sequences) {
                    mixedSteps.incrementAndGet();
                }
            }

            @Override
            public void preempted(String requestId) {
                preemptions.incrementAndGet();
            }
        };
        List<TinyGolden.Case> golden = TinyGolden.cases();
        // as ServingEngineGoldenTest: 90 blocks of 4 cannot hold the four cases' 104 blocks at once
        try (ServingEngine engine = tiny.engine(90, 4, 8, 32, counting)) {
            List<Recorder> runs = new ArrayList<>();
            for (TinyGolden.Case c : golden.reversed()) {
                Recorder rec = new Recorder(1);
                engine.submit(new GenerationRequest(c.name(), c.prompt(), SamplingParams.greedy(16), null), rec);
                runs.add(rec);
            }
            for (int i = 0; i < runs.size(); i++) {
                TinyGolden.Case c = golden.reversed().get(i);
                assertArrayEquals(c.greedy(), runs.get(i).await().tokens(0), c.name() + " greedy ids");
            }
            awaitIdle(engine);
            assertEquals(0, engine.usedBlocks());
        }
        assertTrue(preemptions.get() > 0, "the cache never ran out; the test does not test preemption");
        assertTrue(mixedSteps.get() > 0, "no step batched several sequences with a prefill");
    }
}
