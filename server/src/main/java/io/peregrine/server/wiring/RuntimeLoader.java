package io.peregrine.server.wiring;

import io.peregrine.engine.backend.Backend;
import io.peregrine.engine.backend.BackendProvider;
import io.peregrine.engine.backend.Backends;
import io.peregrine.engine.chat.ChatTemplate;
import io.peregrine.engine.chat.PromptEncoder;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.checkpoint.demo.DemoCheckpoint;
import io.peregrine.engine.config.ModelConfig;
import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.model.KimiTextModel;
import io.peregrine.engine.runtime.EngineConfig;
import io.peregrine.engine.runtime.EngineListener;
import io.peregrine.engine.runtime.ServingEngine;
import io.peregrine.engine.sched.SchedulerConfig;
import io.peregrine.engine.tokenizer.KimiTokenizer;
import io.peregrine.server.serving.ModelRuntime;
import io.peregrine.server.serving.ServingState;
import java.nio.file.Path;
import java.util.List;
import java.util.logging.Logger;

/**
 * Turns a checkpoint directory into a serving {@link ModelRuntime}: map and validate the weights, load the
 * tokenizer and the checkpoint's own chat template, build the model on the chosen backend, size the KV cache
 * and start the engine thread.
 */
public final class RuntimeLoader {
    private static final Logger LOG = Logger.getLogger(RuntimeLoader.class.getName());

    /** What the loader needs from the command line. */
    public record Options(Path model, List<String> servedModelNames, Integer maxModelLen, int maxNumSeqs,
                          int maxWaiting, int maxNumBatchedTokens, long kvCacheBytes, int blockSize, String backend,
                          String demoPreset) {}

    private RuntimeLoader() {}

    public static ModelRuntime load(Options o, ServingState progress) {
        return load(o, progress, EngineListener.NONE);
    }

    /** @param listener engine events for metrics (preemptions); called on the engine thread */
    public static ModelRuntime load(Options o, ServingState progress, EngineListener listener) {
        Path dir = o.model();
        if (dir == null) {
            dir = DemoCheckpoint.defaultDir();
            LOG.info("no --model given: serving the demo checkpoint (preset " + o.demoPreset() + ") at " + dir);
            progress.loading(0.0, "writing the demo checkpoint");
            Path d = dir;
            DemoCheckpoint.ensure(d, o.demoPreset(), DemoCheckpoint.DEFAULT_SEED,
                    p -> progress.loading(0.3 * p.bytesDone() / Math.max(1.0, p.bytesTotal()), "writing the demo checkpoint " + d));
        }
        progress.loading(0.3, "mapping " + dir);
        Path ckDir = dir;
        Checkpoint ck = Checkpoint.openValidated(dir, p -> {
            progress.loading(0.3 + 0.3 * p.bytesDone() / Math.max(1.0, p.bytesTotal()), "mapping " + p.file());
            LOG.fine(() -> "mapped " + p);
        });
        ModelConfig config = ck.config();
        progress.loading(0.6, "loading the tokenizer and chat template");
        KimiTokenizer tokenizer = KimiTokenizer.fromDirectory(ckDir);
        ChatTemplate template = ChatTemplate.fromCheckpoint(ckDir);
        BackendProvider provider = Backends.select(o.backend());
        Backend backend = provider.create();
        LOG.info("backend: " + backend.name());
        progress.loading(0.7, "preparing weights on " + backend.name());
        KimiTextModel model = KimiTextModel.load(ck, backend);
        int maxLen = o.maxModelLen() != null ? o.maxModelLen() : config.text().maxPositionEmbeddings();
        if (maxLen > config.text().maxPositionEmbeddings()) {
            throw new IllegalArgumentException("--max-model-len " + maxLen + " exceeds the model's "
                    + config.text().maxPositionEmbeddings());
        }
        LatentCache cache = ServingEngine.cacheFor(model, o.kvCacheBytes(), o.blockSize());
        LOG.info(String.format("KV cache: %d blocks of %d tokens (%d tokens, %.1f MiB fp32)", cache.numBlocks(),
                cache.blockSize(), (long) cache.numBlocks() * cache.blockSize(), cache.bytes() / 1048576.0));
        EngineConfig engineConfig = EngineConfig.forModel(config,
                new SchedulerConfig(o.maxNumSeqs(), Math.max(o.maxNumSeqs(), o.maxNumBatchedTokens())), maxLen,
                o.maxWaiting());
        KimiTextCodec codec = new KimiTextCodec(tokenizer, config.bosTokenId());
        ServingEngine engine = new ServingEngine(model, cache, engineConfig, codec, listener);
        progress.loading(1.0, "ready");
        return new ModelRuntime(o.servedModelNames(), ckDir.toAbsolutePath().toString(), engine, codec,
                new KimiChatPromptBuilder(new PromptEncoder(template, tokenizer)), new KimiOutputParsers(tokenizer, engineConfig.skipSpecialTokens()));
    }
}
