package io.peregrine.engine.model;

import io.peregrine.engine.backend.cpu.CpuBackend;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.config.TextConfig;
import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.testing.TestData;
import java.util.List;

/** The tiny golden checkpoint loaded once per test class, with helpers to run a sequence through a cache. */
final class TinyModel implements AutoCloseable {
    static final int BLOCK = 16;

    final Checkpoint checkpoint;
    final CpuBackend backend;
    final KimiTextModel model;

    TinyModel() {
        checkpoint = Checkpoint.open(TestData.tinyCheckpoint());
        backend = new CpuBackend(2);
        model = KimiTextModel.load(checkpoint, backend);
    }

    TextConfig config() {
        return model.config();
    }

    LatentCache newCache(int blocks) {
        return new LatentCache(config().numHiddenLayers(), blocks, BLOCK, config().kvCacheWidth());
    }

    /** A block table that walks the cache backwards, so paging bugs cannot hide behind identity slots. */
    static int[] reversedBlocks(int blocks) {
        int[] t = new int[blocks];
        for (int i = 0; i < blocks; i++) {
            t[i] = blocks - 1 - i;
        }
        return t;
    }

    float[][] prefill(int[] tokens, int startPos, int[] table, LatentCache cache, boolean all) {
        return model.forward(List.of(new SequenceSlice(tokens, startPos, table, all)), cache).getFirst();
    }

    @Override
    public void close() {
        backend.close();
        checkpoint.close();
    }
}
