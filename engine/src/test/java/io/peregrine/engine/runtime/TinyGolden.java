package io.peregrine.engine.runtime;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.engine.backend.cpu.CpuBackend;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.model.KimiTextModel;
import io.peregrine.engine.sched.SchedulerConfig;
import io.peregrine.engine.spec.Drafter;
import io.peregrine.engine.spec.SpeculativeConfig;
import io.peregrine.engine.testing.TestData;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;

/**
 * The golden tiny checkpoint under the serving engine: the real {@link KimiTextModel}, the text-golden cases
 * (golden README §3) and a decoder for its vocabulary, which has no tokenizer files.
 */
final class TinyGolden implements AutoCloseable {
    /** Ids at and above this are the tiny checkpoint's remapped special tokens (BOS 1792, EOS 1793, ...). */
    static final int FIRST_SPECIAL = 1792;
    static final int BOS = 1792;
    static final int EOS = 1793;

    /** One text-golden case: its prompt and the reference's sixteen greedy ids. */
    record Case(String name, int[] prompt, int[] greedy) {}

    final Checkpoint checkpoint;
    final CpuBackend backend;
    final KimiTextModel model;

    TinyGolden() {
        this(false);
    }

    /** @param batchInvariant the backend's batch-invariant mode */
    TinyGolden(boolean batchInvariant) {
        this(batchInvariant, KimiTextModel::load);
    }

    /** The model bound by {@code load} over this instance's backend (e.g. with routed experts on a second one). */
    TinyGolden(boolean batchInvariant, BiFunction<Checkpoint, CpuBackend, KimiTextModel> load) {
        checkpoint = Checkpoint.open(TestData.tinyCheckpoint());
        backend = new CpuBackend(2, batchInvariant);
        model = load.apply(checkpoint, backend);
    }

    ServingEngine engine(int blocks, int blockSize, int maxRunning, int maxBatchedTokens, EngineListener listener) {
        return engine(blocks, blockSize, maxRunning, maxBatchedTokens, listener, null);
    }

    /** @param speculative null: no speculative decoding */
    ServingEngine engine(int blocks, int blockSize, int maxRunning, int maxBatchedTokens, EngineListener listener,
                         SpeculativeConfig speculative) {
        return engine(blocks, blockSize, maxRunning, maxBatchedTokens, listener, speculative,
                speculative == null ? null : speculative.drafter());
    }

    /** Speculating with {@code drafter} in place of the configured method's. */
    ServingEngine engine(int blocks, int blockSize, int maxRunning, int maxBatchedTokens, EngineListener listener,
                         SpeculativeConfig speculative, Drafter drafter) {
        LatentCache cache = new LatentCache(model.config().numHiddenLayers(), blocks, blockSize,
                model.config().kvCacheWidth());
        EngineConfig cfg = new EngineConfig(new SchedulerConfig(maxRunning, maxBatchedTokens), 1024, 1000,
                List.of(EOS), false, speculative);
        return new ServingEngine(model, cache, cfg, new Decoder(), listener, drafter);
    }

    static List<Case> cases() {
        try {
            JsonNode root = new ObjectMapper().readTree(
                    TestData.golden("text-golden", "text_golden.json").toFile());
            List<Case> out = new ArrayList<>();
            for (JsonNode c : root.get("cases")) {
                out.add(new Case(c.get("name").asText(), ints(c.get("prompt_ids")), ints(c.get("greedy_ids"))));
            }
            return out;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).asInt();
        }
        return out;
    }

    @Override
    public void close() {
        backend.close();
        checkpoint.close();
    }

    /** Every id reads as " <id>", so streamed text is checkable; the remapped specials are special. */
    static final class Decoder implements TokenDecoder {
        @Override
        public byte[] bytes(int tokenId) {
            return (" " + tokenId).getBytes(StandardCharsets.US_ASCII);
        }

        @Override
        public boolean isSpecial(int tokenId) {
            return tokenId >= FIRST_SPECIAL;
        }

        static String text(int[] ids) {
            StringBuilder sb = new StringBuilder();
            for (int id : ids) {
                sb.append(' ').append(id);
            }
            return sb.toString();
        }
    }
}
