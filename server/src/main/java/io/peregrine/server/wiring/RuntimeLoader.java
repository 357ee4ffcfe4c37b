package io.peregrine.server.wiring;

import io.peregrine.engine.backend.Backend;
import io.peregrine.engine.backend.BackendProvider;
import io.peregrine.engine.backend.Backends;
import io.peregrine.engine.backend.DeviceRanks;
import io.peregrine.engine.dist.Communicator;
import io.peregrine.engine.backend.cpu.CpuBackend;
import io.peregrine.engine.chat.ChatTemplate;
import io.peregrine.engine.chat.PromptEncoder;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.checkpoint.demo.DemoCheckpoint;
import io.peregrine.engine.config.ModelConfig;
import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.media.MediaBudget;
import io.peregrine.engine.media.MediaProcessor;
import io.peregrine.engine.media.video.VideoProcessorConfig;
import io.peregrine.engine.spec.SpeculativeConfig;
import io.peregrine.engine.vision.decode.ImageDecoder;
import io.peregrine.engine.vision.encoder.EncoderPlacement;
import io.peregrine.engine.vision.encoder.EncoderTpMode;
import io.peregrine.engine.vision.encoder.MoonVitEncoder;
import io.peregrine.engine.vision.encoder.MoonVitGraph;
import io.peregrine.engine.vision.encoder.VisionBatcher;
import io.peregrine.engine.vision.encoder.OnnxVisionEncoder;
import io.peregrine.engine.vision.encoder.VisionEmbeddingCache;
import io.peregrine.engine.vision.preprocess.ImagePreprocessor;
import io.peregrine.server.media.MediaFetchPolicy;
import io.peregrine.server.media.MediaFetcher;
import io.peregrine.engine.model.ExpertPlacement;
import io.peregrine.engine.model.ExpertStreaming;
import io.peregrine.engine.model.KimiTextModel;
import io.peregrine.engine.model.PlacementReport;
import io.peregrine.engine.model.LanguageModel;
import io.peregrine.engine.model.TextShard;
import io.peregrine.engine.runtime.InferenceEngine;
import io.peregrine.engine.shard.ShardingPlan;
import io.peregrine.engine.model.WeightProgress;
import io.peregrine.engine.runtime.EngineConfig;
import io.peregrine.engine.runtime.EngineListener;
import io.peregrine.engine.runtime.ServingEngine;
import io.peregrine.engine.sched.SchedulerConfig;
import io.peregrine.engine.tokenizer.KimiTokenizer;
import io.peregrine.engine.vision.encoder.VisionEncoder;
import io.peregrine.server.metrics.ServerMetrics;
import io.peregrine.server.serving.EngineListeners;
import io.peregrine.server.serving.ModelRuntime;
import io.peregrine.server.tracing.Tracing;
import io.peregrine.server.serving.ServingState;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.logging.Logger;

/**
 * Turns a checkpoint directory into a serving {@link ModelRuntime}: map and validate the weights, load the
 * tokenizer and the checkpoint's own chat template, build the model on the chosen backend, size the KV cache
 * and start the engine thread.
 */
public final class RuntimeLoader {
    private static final Logger LOG = Logger.getLogger(RuntimeLoader.class.getName());

    /**
     * What the loader needs from the command line.
     *
     * @param batchInvariant the backend's batch-invariant mode ({@code --batch-invariant})
     * @param threads        the backend's compute threads ({@code --threads}); null: the backend's default (all cores)
     * @param chatTemplate   {@code --chat-template FILE}, or null for the checkpoint's {@code chat_template.jinja}
     * @param moe            where the routed experts live ({@code --moe-placement} and its flags)
     * @param enforceEager   {@code --enforce-eager} (vLLM's flag): no decode graphs; every step runs eagerly
     */
    public record Options(Path model, List<String> servedModelNames, Integer maxModelLen, int maxNumSeqs,
                          int maxWaiting, int maxNumBatchedTokens, long kvCacheBytes, int blockSize, String backend,
                          String demoPreset, MediaOptions media, boolean batchInvariant, Path chatTemplate,
                          long maxPrefillCost, Integer threads, SpeculativeConfig speculative,
                          MoeOptions moe, boolean enforceEager) {

        /** All routed experts with the rest of the model; decode graphs on where the backend has them. */
        public Options(Path model, List<String> servedModelNames, Integer maxModelLen, int maxNumSeqs, int maxWaiting,
                       int maxNumBatchedTokens, long kvCacheBytes, int blockSize, String backend, String demoPreset,
                       MediaOptions media, boolean batchInvariant, Path chatTemplate, long maxPrefillCost,
                       Integer threads, SpeculativeConfig speculative) {
            this(model, servedModelNames, maxModelLen, maxNumSeqs, maxWaiting, maxNumBatchedTokens, kvCacheBytes,
                    blockSize, backend, demoPreset, media, batchInvariant, chatTemplate, maxPrefillCost, threads,
                    speculative, MoeOptions.GPU, false);
        }

        /** {@link #maxPrefillCost} chosen by the backend: {@link SchedulerConfig#CPU_PREFILL_COST} on the CPU, no cap on CUDA. */
        public static final long AUTO = -1;

        /** Without speculative decoding. */
        public Options(Path model, List<String> servedModelNames, Integer maxModelLen, int maxNumSeqs, int maxWaiting,
                       int maxNumBatchedTokens, long kvCacheBytes, int blockSize, String backend, String demoPreset,
                       MediaOptions media, boolean batchInvariant, Path chatTemplate) {
            this(model, servedModelNames, maxModelLen, maxNumSeqs, maxWaiting, maxNumBatchedTokens, kvCacheBytes,
                    blockSize, backend, demoPreset, media, batchInvariant, chatTemplate, AUTO, null, null);
        }

        public Options(Path model, List<String> servedModelNames, Integer maxModelLen, int maxNumSeqs, int maxWaiting,
                       int maxNumBatchedTokens, long kvCacheBytes, int blockSize, String backend, String demoPreset,
                       MediaOptions media, boolean batchInvariant) {
            this(model, servedModelNames, maxModelLen, maxNumSeqs, maxWaiting, maxNumBatchedTokens, kvCacheBytes,
                    blockSize, backend, demoPreset, media, batchInvariant, null, AUTO, null, null);
        }

        public Options(Path model, List<String> servedModelNames, Integer maxModelLen, int maxNumSeqs, int maxWaiting,
                       int maxNumBatchedTokens, long kvCacheBytes, int blockSize, String backend, String demoPreset,
                       MediaOptions media) {
            this(model, servedModelNames, maxModelLen, maxNumSeqs, maxWaiting, maxNumBatchedTokens, kvCacheBytes,
                    blockSize, backend, demoPreset, media, false);
        }

        /** Default media options (data URLs only, the default budgets). */
        public Options(Path model, List<String> servedModelNames, Integer maxModelLen, int maxNumSeqs, int maxWaiting,
                       int maxNumBatchedTokens, long kvCacheBytes, int blockSize, String backend, String demoPreset) {
            this(model, servedModelNames, maxModelLen, maxNumSeqs, maxWaiting, maxNumBatchedTokens, kvCacheBytes,
                    blockSize, backend, demoPreset, MediaOptions.defaults());
        }

        public Options {
            media = media == null ? MediaOptions.defaults() : media;
            moe = moe == null ? MoeOptions.GPU : moe;
            if (threads != null && threads < 1) {
                throw new IllegalArgumentException("--threads must be at least 1, got " + threads);
            }
        }
    }

    /**
     * Images, videos and PDFs.
     *
     * @param vision             build the vision pipeline when the checkpoint has a vision tower
     * @param onnxCacheDir       where the built MoonViT ONNX model is kept
     * @param encoderCacheBytes  bytes of projector outputs kept by content (agents resend screenshots)
     */
    /**
     * @param visionTokensByBackend the budget's vision-token cap was not set by the operator: it becomes
     *                              {@link MediaBudget#CPU_VISION_TOKENS} on the CPU backend (the budget's own value
     *                              on CUDA), since there a large media prompt's prefill costs minutes
     */
    /**
     * @param encoderPlacement where the tower runs ({@code --mm-encoder-backend})
     * @param encoderTpMode    how it uses tensor-parallel ranks ({@code --mm-encoder-tp-mode})
     */
    public record MediaOptions(boolean vision, Path onnxCacheDir, MediaFetchPolicy fetch, MediaBudget budget,
                               long encoderCacheBytes, boolean visionTokensByBackend, EncoderPlacement encoderPlacement,
                               EncoderTpMode encoderTpMode) {

        public MediaOptions {
            encoderPlacement = encoderPlacement == null ? EncoderPlacement.AUTO : encoderPlacement;
            encoderTpMode = encoderTpMode == null ? EncoderTpMode.WEIGHTS : encoderTpMode;
        }

        public MediaOptions(boolean vision, Path onnxCacheDir, MediaFetchPolicy fetch, MediaBudget budget,
                            long encoderCacheBytes, boolean visionTokensByBackend) {
            this(vision, onnxCacheDir, fetch, budget, encoderCacheBytes, visionTokensByBackend, EncoderPlacement.AUTO,
                    EncoderTpMode.WEIGHTS);
        }

        public MediaOptions(boolean vision, Path onnxCacheDir, MediaFetchPolicy fetch, MediaBudget budget,
                            long encoderCacheBytes) {
            this(vision, onnxCacheDir, fetch, budget, encoderCacheBytes, false);
        }

        public static MediaOptions defaults() {
            return new MediaOptions(true, defaultOnnxCacheDir(), MediaFetchPolicy.DATA_URLS_ONLY, MediaBudget.DEFAULT,
                    512L << 20);
        }

        /** {@code $PEREGRINE_ONNX_DIR}, else {@code ${user.home}/.cache/peregrine/onnx}. */
        public static Path defaultOnnxCacheDir() {
            String env = System.getenv("PEREGRINE_ONNX_DIR");
            return env != null && !env.isBlank() ? Path.of(env)
                    : Path.of(System.getProperty("user.home"), ".cache", "peregrine", "onnx");
        }
    }

    /**
     * {@code --tensor-parallel-size} and {@code --enable-expert-parallel}: ranks on this host, experts by TP or EP.
     */
    public record Parallel(int tensorParallelSize, boolean expertParallel, Nodes nodes) {
        public static final Parallel SINGLE = new Parallel(1, false);

        public Parallel {
            if (tensorParallelSize < 1) {
                throw new IllegalArgumentException("--tensor-parallel-size must be at least 1, got " + tensorParallelSize);
            }
            nodes.ranksPerNode(tensorParallelSize);
        }

        /** On one node. */
        public Parallel(int tensorParallelSize, boolean expertParallel) {
            this(tensorParallelSize, expertParallel, Nodes.ONE);
        }

        /** The ranks on this host. */
        public int ranksPerNode() {
            return nodes.ranksPerNode(tensorParallelSize);
        }
    }

    /**
     * {@code --moe-placement gpu|cpu|auto}, {@code --moe-gpu-memory SIZE} and {@code --moe-routing-histogram FILE}:
     * routed experts with the rest of the model on the primary backend, all on a CPU host backend, or those that fit
     * {@code gpuMemory} bytes of weights on the primary (the most routed first when the histogram file exists), the
     * rest on the host. The histogram file gets this run's routing counts added on shutdown.
     *
     * @param gpuMemory weight bytes the primary may hold under {@code auto}; 0 when not given
     */
    public record MoeOptions(ExpertPlacement.Mode placement, long gpuMemory, Path routingHistogram) {
        public static final MoeOptions GPU = new MoeOptions(ExpertPlacement.Mode.GPU, 0, null);

        public MoeOptions {
            if (placement == ExpertPlacement.Mode.CUSTOM) {
                throw new IllegalArgumentException("--moe-placement must be gpu, cpu or auto");
            }
            if (placement == ExpertPlacement.Mode.AUTO && gpuMemory <= 0) {
                throw new IllegalArgumentException("--moe-placement auto needs --moe-gpu-memory (the bytes of "
                        + "weights the GPU may hold, e.g. 120GiB)");
            }
            if (placement != ExpertPlacement.Mode.AUTO && gpuMemory > 0) {
                throw new IllegalArgumentException("--moe-gpu-memory applies to --moe-placement auto only");
            }
        }

        boolean hybrid() {
            return placement != ExpertPlacement.Mode.GPU;
        }
    }

    private RuntimeLoader() {}

    public static ModelRuntime load(Options o, ServingState progress) {
        return load(o, progress, EngineListener.NONE);
    }

    /** @param listener engine events for metrics (preemptions); called on the engine thread */
    public static ModelRuntime load(Options o, ServingState progress, EngineListener listener) {
        return load(o, progress, listener, null, Tracing.off());
    }

    /**
     * The serving wiring: engine events to {@code metrics} and {@code tracing}, the vision encoder timed into
     * {@code metrics} and traced, the media threads carrying each request's trace context.
     */
    public static ModelRuntime load(Options o, ServingState progress, ServerMetrics metrics, Tracing tracing) {
        return load(o, Parallel.SINGLE, progress, metrics, tracing);
    }

    /**
     * As above, sharded over {@code parallel.tensorParallelSize()} ranks: this process is rank 0 and starts the
     * others itself ({@link ShardGroup}); a group that breaks later puts {@code progress} in its failed state.
     */
    public static ModelRuntime load(Options o, Parallel parallel, ServingState progress, ServerMetrics metrics,
                                    Tracing tracing) {
        return load(o, parallel, progress, EngineListeners.both(metrics.engineListener(), tracing.engineListener()),
                metrics, tracing);
    }

    /** For tests: sharded, engine events to {@code listener} only. */
    public static ModelRuntime load(Options o, Parallel parallel, ServingState progress, EngineListener listener) {
        return load(o, parallel, progress, listener, null, Tracing.off());
    }

    private static ModelRuntime load(Options o, ServingState progress, EngineListener listener, ServerMetrics metrics,
                                     Tracing tracing) {
        return load(o, Parallel.SINGLE, progress, listener, metrics, tracing);
    }

    /** @param metrics null: the vision encoder is not timed */
    private static ModelRuntime load(Options o, Parallel parallel, ServingState progress, EngineListener listener,
                                     ServerMetrics metrics, Tracing tracing) {
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
        int ranks = parallel.tensorParallelSize();
        // The plan first: counts the ranks cannot divide are the start-up error, before any worker starts.
        ShardingPlan plan = new ShardingPlan(config, ranks, parallel.expertParallel());
        progress.loading(0.6, "loading the tokenizer and chat template");
        KimiTokenizer tokenizer = KimiTokenizer.fromDirectory(ckDir);
        ChatTemplate template = o.chatTemplate() != null ? ChatTemplate.fromFile(o.chatTemplate())
                : ChatTemplate.fromCheckpoint(ckDir);
        LOG.info("chat template: " + template.describe());
        BackendProvider provider = Backends.select(o.backend());
        // Several ranks on a device backend: one GPU per rank, NCCL between them (checked before any worker starts).
        DeviceRanks devices = ranks > 1 ? deviceRanks(provider, parallel, o.batchInvariant()) : null;
        // Ranks on one host share its cores: without --threads each gets its share.
        Integer threads = o.threads() != null || ranks == 1 ? o.threads() : Integer.valueOf(defaultThreads(parallel));
        Backend backend;
        if (devices != null) {
            backend = devices.open(RankDevices.ordinal(0, parallel.ranksPerNode()));
            LOG.info("rank 0 on " + RankDevices.fromEnvironment().describe(0));
        } else if (threads != null) {
            try {
                backend = provider.create(threads, o.batchInvariant());
            } catch (UnsupportedOperationException e) {
                throw new IllegalArgumentException("--threads: " + e.getMessage(), e);
            }
        } else {
            try {
                backend = o.batchInvariant() ? provider.createBatchInvariant() : provider.create();
            } catch (UnsupportedOperationException e) {
                throw new IllegalArgumentException("--batch-invariant: " + e.getMessage(), e);
            }
        }
        if (backend instanceof CpuBackend cpu) {
            LOG.info("backend: cpu" + (o.batchInvariant() ? " (batch-invariant)" : "") + ", " + cpu.threads()
                    + " compute threads, kernels " + cpu.kernelPath());
            listener.backend(backend.name(), cpu.threads(), cpu.kernelPath());
        } else {
            LOG.info("backend: " + backend.name() + (o.batchInvariant() ? " (batch-invariant)" : ""));
            listener.backend(backend.name(), 0, backend.name());
        }
        int maxLen = o.maxModelLen() != null ? o.maxModelLen() : config.text().maxPositionEmbeddings();
        if (maxLen > config.text().maxPositionEmbeddings()) {
            throw new IllegalArgumentException("--max-model-len " + maxLen + " exceeds the model's "
                    + config.text().maxPositionEmbeddings());
        }
        progress.loading(0.7, "preparing weights on " + backend.name());
        ShardGroup group = null;
        LanguageModel model;
        Hybrid hybrid = null;
        try {
            if (o.moe().hybrid()) {
                if (ranks > 1) {
                    throw new IllegalArgumentException("--moe-placement " + o.moe().placement().name()
                            .toLowerCase(java.util.Locale.ROOT) + " runs on one rank (a GPU and the host); "
                            + "with --tensor-parallel-size above 1 it is not supported");
                }
                hybrid = hybrid(ck, backend, threads, o, metrics, progress);
                model = hybrid.model();
            } else if (ranks == 1) {
                KimiTextModel kimi = KimiTextModel.load(ck, backend, weightLog(progress, backend.name()));
                decodeGraphs(kimi, o);
                model = kimi;
            } else {
                List<String> flags = workerFlags(threads, parallel, o.batchInvariant(), devices == null ? null
                        : provider.name());
                Nodes nodes = parallel.nodes();
                Consumer<String> onFailure = why -> progress.engineFailed("the sharded model can no longer run: " + why);
                if (nodes.multiNode()) {
                    LOG.info("tensor parallel: " + ranks + " ranks on " + nodes.nnodes() + " nodes over TCP (node 0 "
                            + "listens on port " + nodes.masterPort() + "), experts by " + (parallel.expertParallel()
                            ? "expert parallelism (whole experts per rank)" : "tensor parallelism") + (devices == null
                            ? ", " + threads + " compute threads each" : ", one GPU each, NCCL between them"));
                    group = ShardGroup.launchLeader(ckDir.toAbsolutePath(), ranks, nodes, flags, onFailure);
                } else {
                    LOG.info("tensor parallel: " + ranks + " ranks on this host over shm, experts by "
                            + (parallel.expertParallel() ? "expert parallelism (whole experts per rank)" : "tensor parallelism")
                            + (devices == null ? ", " + threads + " compute threads each"
                            : ", one GPU each, NCCL between them"));
                    group = ShardGroup.launch(ckDir.toAbsolutePath(), ranks, flags, onFailure);
                }
                // The host group is the control plane (step inputs, stop, a lost peer); on a device backend the
                // model's collectives go through NCCL, its id handed out over that group.
                Communicator collectives = devices == null ? group.communicator() : devices.collectives(backend, group.communicator());
                if (devices != null) {
                    group.closeWith(collectives);
                }
                KimiTextModel rank0 = KimiTextModel.load(ck, backend, TextShard.of(plan, 0), collectives,
                        weightLog(progress, backend.name()));
                LOG.info("rank 0 loaded its shard (" + rank0.weightBytesRead() + " checkpoint bytes)");
                model = group.serve(rank0);
            }
        } catch (RuntimeException | Error e) {
            // a failed start leaves no worker behind (and should serve exit anyway, the workers see rank 0 gone)
            if (group != null) {
                group.close();
            }
            throw e;
        }
        LatentCache cache;
        try {
            cache = ServingEngine.cacheFor(model, o.kvCacheBytes(), o.blockSize());
        } catch (RuntimeException e) {
            if (group != null) {
                group.close();
            }
            throw e;
        }
        LOG.info(String.format("KV cache: %d blocks of %d tokens (%d tokens, %.1f MiB fp32)", cache.numBlocks(),
                cache.blockSize(), (long) cache.numBlocks() * cache.blockSize(), cache.bytes() / 1048576.0));
        long prefillCost = o.maxPrefillCost() != Options.AUTO ? o.maxPrefillCost()
                : backend.name().toLowerCase(java.util.Locale.ROOT).contains("cuda") ? 0 : SchedulerConfig.CPU_PREFILL_COST;
        LOG.info("prefill work per step: " + (prefillCost == 0 ? "no cap" : "at most " + prefillCost + " attention pairs")
                + (o.maxPrefillCost() == Options.AUTO ? " (the backend's default; --max-prefill-step-cost sets it)" : ""));
        EngineConfig engineConfig = EngineConfig.forModel(config,
                new SchedulerConfig(o.maxNumSeqs(), Math.max(o.maxNumSeqs(), o.maxNumBatchedTokens()),
                        prefillCost), maxLen,
                o.maxWaiting()).withSpeculative(o.speculative());
        if (o.speculative() != null) {
            LOG.info("speculative decoding: " + o.speculative());
        }
        KimiTextCodec codec = new KimiTextCodec(tokenizer, config.bosTokenId());
        InferenceEngine engine = new ServingEngine(model, cache, engineConfig, codec, listener);
        if (group != null) {
            engine = new GroupEngine(engine, group);
        }
        if (hybrid != null) {
            engine = new HybridEngine(engine, hybrid.model(), hybrid.host(), o.moe().routingHistogram());
        }
        KimiChatPromptBuilder.Multimodal media = null;
        if (o.media().vision() && ck.has("vision_tower.patch_embed.pos_emb.weight")) {
            progress.loading(0.95, "building the vision encoder");
            media = multimodal(ck, backend, tokenizer, o.media(), metrics, tracing);
        }
        progress.loading(1.0, "ready");
        return new ModelRuntime(o.servedModelNames(), ckDir.toAbsolutePath().toString(), engine, codec,
                new KimiChatPromptBuilder(new PromptEncoder(template, tokenizer), media));
    }

    /** Ranks on one host share its cores: without --threads each gets its share. */
    private static int defaultThreads(Parallel parallel) {
        return Math.max(1, Runtime.getRuntime().availableProcessors() / parallel.ranksPerNode());
    }

    /**
     * What every worker rank is told besides its rank and group: its threads and the shard choice, and on a device
     * backend ({@code deviceBackend} not null) the backend and the ranks per node (its GPU is its local rank).
     */
    static List<String> workerFlags(int threads, Parallel parallel, boolean batchInvariant, String deviceBackend) {
        List<String> flags = new ArrayList<>(List.of("--threads", String.valueOf(threads)));
        if (deviceBackend != null) {
            flags.addAll(List.of("--backend", deviceBackend, "--ranks-per-node", String.valueOf(parallel.ranksPerNode())));
        }
        if (parallel.expertParallel()) {
            flags.add("--enable-expert-parallel");
        }
        if (batchInvariant) {
            flags.add("--batch-invariant");
        }
        return flags;
    }

    /**
     * {@code serve --node-rank R} for {@code R > 0}: no HTTP server, no scheduler; this node's ranks, started here
     * and joined to node 0 ({@link NodeRanks}). The plan is built first, so counts the ranks cannot divide fail here
     * as on node 0, before anything starts. Returns the exit status.
     */
    public static int runNode(Path model, String demoPreset, String backend, Integer threads, boolean batchInvariant,
                              Parallel parallel) {
        if (parallel.nodes().nodeRank() == 0) {
            throw new IllegalArgumentException("node 0 serves (RuntimeLoader.load); runNode is for --node-rank above 0");
        }
        BackendProvider provider = Backends.select(backend == null ? "auto" : backend);
        DeviceRanks devices = deviceRanks(provider, parallel, batchInvariant);
        Path dir = model;
        if (dir == null) {
            dir = DemoCheckpoint.defaultDir();
            LOG.info("no --model given: the demo checkpoint (preset " + demoPreset + ") at " + dir);
            DemoCheckpoint.ensure(dir, demoPreset, DemoCheckpoint.DEFAULT_SEED, p -> { });
        }
        try (Checkpoint ck = Checkpoint.open(dir)) {
            new ShardingPlan(ck.config(), parallel.tensorParallelSize(), parallel.expertParallel());
        }
        int t = threads != null ? threads : defaultThreads(parallel);
        return NodeRanks.run(dir.toAbsolutePath(), parallel.tensorParallelSize(), parallel.nodes(),
                workerFlags(t, parallel, batchInvariant, devices == null ? null : provider.name()));
    }

    /**
     * Patches per device pass of the vision tower: two of the largest images (16,384 patches each before padding) or
     * four full video chunks; the pass's activations are ~9 KB a patch on K2.5 (hidden 1152, MLP 4320, fp32).
     */
    static final int DEVICE_PASS_PATCHES = 32_768;

    /** A model over the primary backend and a CPU host backend, and the host backend it owns. */
    private record Hybrid(KimiTextModel model, Backend host) {}

    /**
     * The placement (read from the histogram file when it exists), logged with its bytes per token; a CPU host
     * backend (the primary's thread count when the primary is the CPU too, else {@code --threads} or all cores); the
     * streaming cost model measured on both; the model, its copy counters registered with {@code metrics}.
     */
    private static Hybrid hybrid(Checkpoint ck, Backend primary, Integer threads, Options o, ServerMetrics metrics,
                                 ServingState progress) {
        MoeOptions moe = o.moe();
        ExpertPlacement.RoutingHistogram histogram = null;
        if (moe.routingHistogram() != null && java.nio.file.Files.exists(moe.routingHistogram())) {
            try {
                histogram = ExpertPlacement.RoutingHistogram.read(moe.routingHistogram());
            } catch (java.io.IOException e) {
                throw new IllegalArgumentException("--moe-routing-histogram: cannot read " + moe.routingHistogram()
                        + ": " + e.getMessage(), e);
            }
            LOG.info("routing histogram: " + moe.routingHistogram());
        }
        ExpertPlacement placement = switch (moe.placement()) {
            case CPU -> ExpertPlacement.host(ck.config().text());
            case AUTO -> ExpertPlacement.auto(ck, moe.gpuMemory(), histogram);
            case GPU, CUSTOM -> throw new IllegalStateException("not a hybrid placement: " + moe.placement());
        };
        LOG.info(PlacementReport.of(placement, ck, histogram).render(placement).stripTrailing());
        Backend host = threads != null ? new CpuBackend(threads, o.batchInvariant())
                : new CpuBackend(Runtime.getRuntime().availableProcessors(), o.batchInvariant());
        try {
            if (!placement.usesHost()) {
                LOG.info("MoE placement: every routed expert fits the primary; the host backend stays idle");
            }
            ExpertStreaming streaming = ExpertStreaming.calibrate(ck, primary, host);
            LOG.info("MoE host backend: cpu, " + ((CpuBackend) host).threads() + " threads; long-prefill streaming: "
                    + streaming);
            progress.loading(0.7, "preparing weights on " + primary.name() + " and the host");
            KimiTextModel model = KimiTextModel.load(ck, primary, host, placement, streaming,
                    weightLog(progress, primary.name() + " + host"));
            if (metrics != null) {
                metrics.hybridExperts(model.hybridStats());
            }
            return new Hybrid(model, host);
        } catch (RuntimeException | Error e) {
            host.close();
            throw e;
        }
    }

    /**
     * Turns on decode graphs unless {@code --enforce-eager}, and says which batch buckets get one. They are captured
     * lazily, on a bucket's first decode step, not at start-up as vLLM does: a bucket no load reaches costs neither
     * capture time nor its workspace's device memory, and the capture log line gives its time when it happens.
     */
    private static void decodeGraphs(KimiTextModel model, Options o) {
        String backend = model.backend().name();
        if (o.enforceEager()) {
            LOG.info("decode graphs: off (--enforce-eager), every step runs eagerly on " + backend);
            return;
        }
        int[] buckets = model.captureDecodeGraphs(o.maxNumSeqs());
        if (buckets.length == 0) {
            LOG.info("decode graphs: none on " + backend + " (it runs every step eagerly)");
        } else {
            LOG.info("decode graphs on " + backend + ": batch buckets " + java.util.Arrays.toString(buckets)
                    + ", each captured on its first decode step (--enforce-eager turns them off)");
        }
    }

    /**
     * The ranks' devices for {@code --tensor-parallel-size} above 1: none on the CPU backend (its ranks meet over the
     * host group alone); on a device backend its {@link DeviceRanks}, NCCL bound and one visible GPU per rank of this
     * node checked, so a missing library or too few GPUs is the start-up error, before any worker starts.
     */
    static DeviceRanks deviceRanks(BackendProvider provider, Parallel parallel, boolean batchInvariant) {
        if (provider.name().equals("cpu")) {
            return null;
        }
        if (batchInvariant) {
            throw new IllegalArgumentException("--batch-invariant: the " + provider.name() + " backend has no "
                    + "batch-invariant mode");
        }
        DeviceRanks devices;
        try {
            devices = provider.deviceRanks();
        } catch (UnsupportedOperationException e) {
            throw new IllegalArgumentException("--tensor-parallel-size above 1: " + e.getMessage(), e);
        }
        RankDevices.fromEnvironment().requireDevices(parallel.ranksPerNode(), devices.visibleDevices());
        return devices;
    }

    /**
     * Weight preparation is the long phase of a real checkpoint (the backend reads every byte), so it moves the
     * readiness fraction from 0.7 to 0.95 and logs at INFO every few seconds and when done.
     */
    private static Consumer<WeightProgress> weightLog(ServingState state, String backend) {
        long every = TimeUnit.SECONDS.toNanos(5);
        long[] lastLog = {System.nanoTime()};
        return p -> {
            state.loading(0.7 + 0.25 * p.fraction(), "preparing weights on " + backend + ": " + p);
            long now = System.nanoTime();
            boolean done = p.bytesDone() == p.bytesTotal() && p.layersDone() == p.layers();
            if (done || now - lastLog[0] >= every) {
                lastLog[0] = now;
                LOG.info((done ? "weights ready on " : "preparing weights on ") + backend + ": " + p);
            } else {
                LOG.fine(() -> "preparing weights on " + backend + ": " + p);
            }
        };
    }

    /**
     * MoonViT + projector where {@code --mm-encoder-backend} puts it: on the model's backend ({@link MoonVitEncoder},
     * the default on CUDA), items of concurrent requests batched into one pass ({@link VisionBatcher}); or on ONNX
     * Runtime's CPU provider (the default on the CPU backend).
     */
    static KimiChatPromptBuilder.Multimodal multimodal(Checkpoint ck, Backend backend, KimiTokenizer tokenizer,
                                                       MediaOptions m, ServerMetrics metrics, Tracing tracing) {
        boolean cuda = backend.name().toLowerCase(java.util.Locale.ROOT).contains("cuda");
        VisionEncoder encoder;
        if (m.encoderPlacement().resolve(backend.name()) == EncoderPlacement.DEVICE) {
            encoder = new VisionBatcher(MoonVitEncoder.load(ck, backend), DEVICE_PASS_PATCHES);
            LOG.info("vision encoder: MoonViT on " + backend.name() + " (the model's backend), concurrent requests'"
                    + " items batched up to " + DEVICE_PASS_PATCHES + " patches a pass");
        } else {
            OnnxVisionEncoder onnx = OnnxVisionEncoder.open(ck,
                    // Half the cores at most: the engine's steps keep the other half while a large image or PDF encodes.
                    new OnnxVisionEncoder.Options(m.onnxCacheDir(), Math.max(1, Runtime.getRuntime().availableProcessors() / 2),
                            false, MoonVitGraph.Attention.FUSED, false));
            encoder = onnx;
            LOG.info("vision encoder: MoonViT on ONNX Runtime (CPU), model cache " + m.onnxCacheDir());
        }
        MediaBudget budget = m.visionTokensByBackend() && !cuda ? m.budget().withMaxVisionTokens(
                Math.min(m.budget().maxVisionTokens(), MediaBudget.CPU_VISION_TOKENS)) : m.budget();
        LOG.info("vision tokens per request: at most " + budget.maxVisionTokens() + (m.visionTokensByBackend()
                ? " (the " + (cuda ? "CUDA" : "CPU") + " backend's default; --max-vision-tokens-per-request sets it)"
                : ""));
        VisionEncoder observed = tracing.traced(metrics == null ? encoder : metrics.timed(encoder));
        MediaProcessor processor = new MediaProcessor(new ImageDecoder(), new ImagePreprocessor(), observed,
                new VisionEmbeddingCache(m.encoderCacheBytes()), VideoProcessorConfig.K25, budget);
        return new KimiChatPromptBuilder.Multimodal(new MediaFetcher(m.fetch()), processor, tokenizer,
                tracing.propagating(KimiChatPromptBuilder.Multimodal.defaultThreads()));
    }
}
