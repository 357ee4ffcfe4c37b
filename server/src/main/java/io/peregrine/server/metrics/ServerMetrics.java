package io.peregrine.server.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.FunctionCounter;
import io.peregrine.engine.model.HybridStats;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.peregrine.engine.runtime.EngineListener;
import io.peregrine.engine.runtime.EngineStats;
import io.peregrine.engine.runtime.TokenConstraint;
import io.peregrine.engine.spec.SpeculativeConfig;
import io.peregrine.engine.vision.encoder.VisionEncoder;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;

/**
 * The Prometheus metrics dashboards for vLLM already chart, under vLLM's names and {@code model_name} label,
 * plus JVM metrics. Engine-side numbers are read from {@link EngineStats} at scrape time; per-request
 * latencies are recorded by the HTTP layer, which sees arrival, first token and end. What vLLM has no name for
 * is under {@code peregrine:} (queue rejections, structured-output mask time, vision-encoder time).
 */
public final class ServerMetrics implements AutoCloseable {
    // vLLM's bucket edges, so dashboards' histogram_quantile panels line up.
    private static final double[] TTFT_BUCKETS = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75,
            1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};
    private static final double[] ITL_BUCKETS = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0,
            2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0};
    private static final double[] REQUEST_BUCKETS = {0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0,
            40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};

    private static final double[] MASK_BUCKETS = {0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
            0.01, 0.025, 0.05, 0.1, 0.25, 1.0};
    private static final double[] VISION_BUCKETS = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            30.0, 60.0};

    private final PrometheusMeterRegistry registry;
    // Micrometer holds gauge and function-counter targets weakly; this field keeps the supplier alive.
    private final Supplier<EngineStats> stats;
    private final String modelName;
    private final Tags tags;
    private final Timer ttft;
    private final Timer itl;
    private final Timer e2e;
    private final Timer queue;
    private final DistributionSummary requestPromptTokens;
    private final DistributionSummary requestGenerationTokens;
    private final Counter preemptions;
    private final DistributionSummary iterationTokens;
    private final ConcurrentHashMap<String, Counter> success = new ConcurrentHashMap<>();
    private final Counter queueRejections;
    private final Counter specDrafts;
    private final Counter specDraftTokens;
    private final Counter specAcceptedTokens;
    /** By draft position: accepted tokens there (registered on first use; the engine thread only writes). */
    private final Counter[] specAcceptedPerPos = new Counter[SpeculativeConfig.MAX_SPECULATIVE_TOKENS];
    private final Timer maskTime;
    private final Timer visionEncoderTime;
    private final JvmGcMetrics gc;

    public ServerMetrics(String modelName, Supplier<EngineStats> stats) {
        this.registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        this.modelName = modelName;
        this.tags = Tags.of("model_name", modelName);
        this.stats = stats;
        gauge("vllm:num_requests_running", "Requests in model execution batches", stats, s -> s.running());
        gauge("vllm:num_requests_waiting", "Requests waiting to be processed", stats, s -> s.waiting());
        gauge("vllm:kv_cache_usage_perc", "KV-cache usage, 1 means 100 percent", stats, EngineStats::kvCacheUsage);
        // Deprecated in vLLM but still queried by many dashboards and autoscalers.
        gauge("vllm:gpu_cache_usage_perc", "KV-cache usage (deprecated alias)", stats, EngineStats::kvCacheUsage);
        counter("vllm:prompt_tokens", "Prefill tokens processed", stats, s -> s.promptTokensTotal());
        counter("vllm:generation_tokens", "Generation tokens processed", stats, s -> s.generationTokensTotal());
        counter("vllm:prefix_cache_queries", "Prefix cache queries, in tokens", stats, s -> s.prefixCacheQueriedTokens());
        counter("vllm:prefix_cache_hits", "Prefix cache hits, in tokens", stats, s -> s.prefixCacheHitTokens());
        ttft = timer("vllm:time_to_first_token", "Time to first token", TTFT_BUCKETS);
        itl = timer("vllm:inter_token_latency", "Latency between generated tokens", ITL_BUCKETS);
        e2e = timer("vllm:e2e_request_latency", "End-to-end request latency", REQUEST_BUCKETS);
        queue = timer("vllm:request_queue_time", "Time spent waiting in the queue", REQUEST_BUCKETS);
        preemptions = Counter.builder("vllm:num_preemptions").description("Cumulative number of preemptions")
                .tags(tags).register(registry);
        // vLLM calls it vllm:iteration_tokens_total; Micrometer drops a histogram's _total suffix, so the series
        // are vllm:iteration_tokens_{bucket,count,sum} here.
        iterationTokens = DistributionSummary.builder("vllm:iteration_tokens")
                .description("Number of tokens per engine step").tags(tags)
                .serviceLevelObjectives(1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384)
                .register(registry);
        // vLLM's speculative decoding counters (exposed with Prometheus' _total suffix, as vLLM's are)
        specDrafts = Counter.builder("vllm:spec_decode_num_drafts")
                .description("Number of spec decoding drafts (speculating sequence-steps)").tags(tags)
                .register(registry);
        specDraftTokens = Counter.builder("vllm:spec_decode_num_draft_tokens")
                .description("Number of draft tokens").tags(tags).register(registry);
        specAcceptedTokens = Counter.builder("vllm:spec_decode_num_accepted_tokens")
                .description("Number of accepted tokens").tags(tags).register(registry);
        queueRejections = Counter.builder("peregrine:queue_rejections")
                .description("Requests refused with 429 because the waiting queue was full").tags(tags)
                .register(registry);
        maskTime = timer("peregrine:structured_output_mask_time",
                "Time to mask one step's logits for a constrained choice (JSON schema, tool call, thinking budget)",
                MASK_BUCKETS);
        visionEncoderTime = timer("peregrine:vision_encoder_time",
                "Time to encode one vision item (image, PDF page, video chunk) through MoonViT and the projector",
                VISION_BUCKETS);
        requestPromptTokens = tokens("vllm:request_prompt_tokens", "Prompt tokens per finished request");
        requestGenerationTokens = tokens("vllm:request_generation_tokens", "Generated tokens per finished request");
        new JvmMemoryMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        gc = new JvmGcMetrics();
        gc.bindTo(registry);
    }

    private void gauge(String name, String help, Supplier<EngineStats> stats, ToDoubleFunction<EngineStats> f) {
        Gauge.builder(name, stats, s -> f.applyAsDouble(s.get())).description(help).tags(tags).strongReference(true)
                .register(registry);
    }

    private void counter(String name, String help, Supplier<EngineStats> stats, ToDoubleFunction<EngineStats> f) {
        FunctionCounter.builder(name, stats, s -> f.applyAsDouble(s.get())).description(help).tags(tags)
                .register(registry);
    }

    private Timer timer(String name, String help, double[] bucketsSeconds) {
        Duration[] slos = Arrays.stream(bucketsSeconds)
                .mapToObj(s -> Duration.ofNanos(Math.round(s * 1e9))).toArray(Duration[]::new);
        return Timer.builder(name).description(help).tags(tags).serviceLevelObjectives(slos).register(registry);
    }

    private DistributionSummary tokens(String name, String help) {
        double[] buckets = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000,
                200000, 262144};
        return DistributionSummary.builder(name).description(help).tags(tags).serviceLevelObjectives(buckets)
                .register(registry);
    }

    public void timeToFirstToken(long nanos) {
        ttft.record(nanos, TimeUnit.NANOSECONDS);
    }

    public void interTokenLatency(long nanos) {
        itl.record(nanos, TimeUnit.NANOSECONDS);
    }

    public void queueTime(long nanos) {
        queue.record(nanos, TimeUnit.NANOSECONDS);
    }

    /** A request that ran to an end (not one rejected before admission). */
    public void finished(String finishedReason, long e2eNanos, int promptTokens, int generationTokens) {
        e2e.record(e2eNanos, TimeUnit.NANOSECONDS);
        requestPromptTokens.record(promptTokens);
        requestGenerationTokens.record(generationTokens);
        success.computeIfAbsent(finishedReason, r -> Counter.builder("vllm:request_success")
                .description("Finished requests by finish reason").tags(tags).tag("finished_reason", r)
                .register(registry)).increment();
    }

    /** A request refused because the waiting queue was full (the client got a 429). */
    public void queueRejected() {
        queueRejections.increment();
    }

    /** {@code factory}'s constraints, each mask timed into {@code peregrine:structured_output_mask_time}; null stays null. */
    public TokenConstraint.Factory timed(TokenConstraint.Factory factory) {
        return factory == null ? null : choice -> new TimedConstraint(factory.forChoice(choice), maskTime);
    }

    /** {@code encoder} with every encode timed into {@code peregrine:vision_encoder_time}. */
    public VisionEncoder timed(VisionEncoder encoder) {
        return new TimedVisionEncoder(encoder, visionEncoderTime);
    }

    /**
     * What the engine reports only as it happens (not in {@link EngineStats}): preemptions and tokens per step.
     * Its methods run on the engine thread and only record into meters.
     */
    public EngineListener engineListener() {
        return new EngineListener() {
            @Override
            public void preempted(String requestId) {
                preemptions.increment();
            }

            @Override
            public void step(int sequences, int tokens, long nanos) {
                iterationTokens.record(tokens);
            }

            @Override
            public void backend(String name, int threads, String kernelPath) {
                // Micrometer strips a gauge's _info suffix, so this one is the Prometheus client's own Info metric.
                io.prometheus.metrics.core.metrics.Info.builder().name("peregrine:backend_info")
                        .help("The compute backend, its host compute threads and kernel path")
                        .labelNames("model_name", "backend", "threads", "kernels")
                        .register(registry.getPrometheusRegistry())
                        .addLabelValues(modelName, name, Integer.toString(threads), kernelPath);
            }

            @Override
            public void speculated(int draftTokens, int accepted) {
                specDrafts.increment();
                specDraftTokens.increment(draftTokens);
                specAcceptedTokens.increment(accepted);
                for (int pos = 0; pos < accepted; pos++) {
                    acceptedAt(pos).increment();
                }
            }
        };
    }

    private Counter acceptedAt(int pos) {
        if (specAcceptedPerPos[pos] == null) {
            specAcceptedPerPos[pos] = Counter.builder("vllm:spec_decode_num_accepted_tokens_per_pos")
                    .description("Accepted tokens per draft position").tags(tags.and("position", String.valueOf(pos)))
                    .register(registry);
        }
        return specAcceptedPerPos[pos];
    }

    /**
     * The MoE layers over a primary and a host backend (issue 20): activation bytes copied each way, routed rows the
     * host computed, host experts streamed to the primary or kept, and the seconds of each part of a MoE layer.
     */
    public void hybridExperts(HybridStats h) {
        FunctionCounter.builder("peregrine:moe_host_copy_bytes", h, HybridStats::bytesToHost).tags(tags.and("direction",
                "to_host")).description("Activation bytes copied between the primary and the host experts")
                .register(registry);
        FunctionCounter.builder("peregrine:moe_host_copy_bytes", h, HybridStats::bytesToPrimary).tags(tags.and(
                "direction", "to_primary")).description("Activation bytes copied between the primary and the host "
                + "experts").register(registry);
        FunctionCounter.builder("peregrine:moe_host_rows", h, HybridStats::hostRows).tags(tags)
                .description("Routed rows computed by host experts").register(registry);
        FunctionCounter.builder("peregrine:moe_layer_steps", h, HybridStats::layerSteps).tags(tags)
                .description("MoE layer steps over the primary and the host").register(registry);
        FunctionCounter.builder("peregrine:moe_host_expert_choices", h, HybridStats::streamedExperts)
                .tags(tags.and("choice", "streamed")).description("Host experts of a step, streamed to the primary "
                        + "or computed on the host (long prefill)").register(registry);
        FunctionCounter.builder("peregrine:moe_host_expert_choices", h, HybridStats::hostComputedExperts)
                .tags(tags.and("choice", "host")).description("Host experts of a step, streamed to the primary "
                        + "or computed on the host (long prefill)").register(registry);
        for (HybridStats.Part part : HybridStats.Part.values()) {
            FunctionCounter.builder("peregrine:moe_hybrid_seconds", h, s -> s.nanos(part) / 1e9)
                    .tags(tags.and("part", part.name().toLowerCase(java.util.Locale.ROOT)))
                    .description("Time of each part of the MoE layers over the primary and the host")
                    .baseUnit("seconds").register(registry);
        }
    }

    /** Prometheus text exposition format 0.0.4. */
    public String scrape() {
        return registry.scrape();
    }

    @Override
    public void close() {
        gc.close();
        registry.close();
    }
}
