package io.peregrine.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.peregrine.api.json.Json;
import io.peregrine.engine.spec.SpeculativeConfig;
import io.peregrine.server.auth.ApiKeys;
import io.peregrine.engine.media.MediaBudget;
import io.peregrine.engine.media.pdf.PdfLimits;
import io.peregrine.engine.media.video.VideoLimits;
import io.peregrine.engine.vision.encoder.EncoderPlacement;
import io.peregrine.engine.vision.encoder.EncoderTpMode;
import io.peregrine.server.chat.MediaLimits;
import io.peregrine.server.media.MediaFetchPolicy;
import io.peregrine.server.chat.ReasoningField;
import io.peregrine.server.app.HttpServer;
import io.peregrine.server.http.CorsPolicy;
import io.peregrine.server.app.ServerConfig;
import io.peregrine.server.metrics.ServerMetrics;
import io.peregrine.server.sampling.SamplingPolicy;
import io.peregrine.server.wiring.Nodes;
import io.peregrine.server.wiring.RuntimeLoader;
import io.peregrine.server.serving.ServingState;
import io.peregrine.server.app.ShutdownSequence;
import io.peregrine.server.tracing.Tracing;
import io.peregrine.server.webui.WebUi;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.logging.Level;
import java.util.logging.Logger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code peregrine serve}: binds the HTTP server first (liveness and readiness answer during the load), loads
 * the model, then serves until SIGTERM, which drains running requests up to {@code --shutdown-timeout}.
 * Flag names follow vLLM's where vLLM has one.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Serve a checkpoint over an OpenAI-compatible HTTP API.")
public final class ServeCommand implements Callable<Integer> {
    private static final Logger LOG = Logger.getLogger(ServeCommand.class.getName());

    @Option(names = "--model", paramLabel = "DIR", description = "Checkpoint directory (default: the demo checkpoint).")
    Path model;

    @Option(names = "--chat-template", paramLabel = "FILE",
            description = "Jinja chat template to use instead of the checkpoint's chat_template.jinja (the official "
                    + "Kimi templates render natively, any other with the Jinja engine).")
    Path chatTemplate;

    @Option(names = "--served-model-name", split = ",", paramLabel = "NAME",
            description = "Name(s) clients send as 'model' (default: the checkpoint's directory name).")
    List<String> servedModelNames = new ArrayList<>();

    @Option(names = "--host", defaultValue = "127.0.0.1",
            description = "Address to bind (default: ${DEFAULT-VALUE}; use 0.0.0.0 to listen on all interfaces).")
    String host;

    @Option(names = "--port", defaultValue = "8000", description = "Port (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--max-model-len", description = "Context length to serve (default: the model's).")
    Integer maxModelLen;

    @Option(names = "--max-num-seqs", defaultValue = "64", description = "Most sequences decoded together.")
    int maxNumSeqs;

    @Option(names = "--max-waiting-queue-length", defaultValue = "256",
            description = "Requests allowed to wait; past it new requests get 429 (default: ${DEFAULT-VALUE}).")
    int maxWaiting;

    @Option(names = "--api-key", paramLabel = "KEY",
            description = "Accepted API key; repeat for several (also env PEREGRINE_API_KEY).")
    List<String> apiKeys = new ArrayList<>();

    @Option(names = "--api-key-file", paramLabel = "FILE", description = "File with one API key per line.")
    Path apiKeyFile;

    @Option(names = "--sampling-policy", defaultValue = "free",
            description = "free, or moonshot: the Moonshot API's fixed K2.5 sampling values, others rejected.")
    String samplingPolicy;

    @Option(names = "--reasoning-field", defaultValue = "both",
            description = "Name of the reasoning output: both, reasoning_content or reasoning (default: both).")
    String reasoningField;

    @Option(names = "--limit-mm-per-prompt", defaultValue = "{\"image\": 16, \"video\": 1}",
            description = "Most media items per request, as JSON (default: ${DEFAULT-VALUE}).")
    String limitMm;

    @Option(names = "--allowed-local-media-path", paramLabel = "DIR",
            description = "Media parts may name local files (absolute paths or file: URLs) under this directory only; "
                    + "without it, local files are refused.")
    Path allowedLocalMediaPath;

    @Option(names = "--allow-media-urls",
            description = "Fetch http(s) media URLs (off by default: only data URLs and allowed local files).")
    boolean allowMediaUrls;

    @Option(names = "--allow-private-media-urls",
            description = "Also fetch media from loopback, private and link-local addresses (off: refused).")
    boolean allowPrivateMediaUrls;

    @Option(names = "--media-fetch-timeout", defaultValue = "10",
            description = "Seconds one media URL fetch may take (default: ${DEFAULT-VALUE}).")
    int mediaFetchTimeoutSeconds;

    @Option(names = "--max-media-bytes", defaultValue = "64MiB", paramLabel = "SIZE",
            description = "Largest image, video or PDF accepted from any source (default: ${DEFAULT-VALUE}).")
    String maxMediaBytes;

    @Option(names = "--max-vision-tokens-per-request", defaultValue = "auto",
            description = "Vision tokens (images, PDF pages, video chunks) one request may use; auto: 65536 on CUDA, "
                    + "8192 on the CPU backend, where a larger media prompt's prefill takes minutes (default: auto).")
    String maxVisionTokens;

    @Option(names = "--max-video-seconds", defaultValue = "1800",
            description = "Longest video accepted, in seconds (default: ${DEFAULT-VALUE}).")
    double maxVideoSeconds;

    @Option(names = "--max-video-frames", defaultValue = "3600",
            description = "Most frames sampled from one video (2 per second) (default: ${DEFAULT-VALUE}).")
    int maxVideoFrames;

    @Option(names = "--max-pdf-pages", defaultValue = "50",
            description = "Most pages of one PDF, each an image (default: ${DEFAULT-VALUE}).")
    int maxPdfPages;

    @Option(names = "--encoder-cache-memory", defaultValue = "512MiB", paramLabel = "SIZE",
            description = "Memory for vision encoder outputs kept by content (default: ${DEFAULT-VALUE}).")
    String encoderCacheMemory;

    @Option(names = "--no-vision", description = "Do not load the vision tower even when the checkpoint has one.")
    boolean noVision;

    @Option(names = "--mm-encoder-backend", defaultValue = "auto", paramLabel = "auto|onnx|device",
            description = "Where the vision tower runs: device = on the model's backend (the GPU), onnx = ONNX Runtime"
                    + " on the host CPU; auto = device on CUDA, onnx otherwise (default: ${DEFAULT-VALUE}).")
    String mmEncoderBackend;

    @Option(names = "--mm-encoder-tp-mode", defaultValue = "weights", paramLabel = "weights|data",
            description = "With tensor-parallel ranks: weights = one copy of the vision tower encodes every item;"
                    + " data = each rank encodes a share of the items (default: ${DEFAULT-VALUE}).")
    String mmEncoderTpMode;

    @Option(names = "--max-request-body-bytes", defaultValue = "33554432",
            description = "Larger request bodies get 413 (default: 32 MiB).")
    int maxBodyBytes;

    @Option(names = "--sse-keep-alive", defaultValue = "15",
            description = "Seconds of silence after which a stream gets an SSE comment; 0 disables.")
    int sseKeepAliveSeconds;

    @Option(names = "--request-read-timeout", defaultValue = "60",
            description = "Seconds a client may take to send a request's headers, and the longest pause allowed "
                    + "while it sends the body; slower clients get 408 and are disconnected (default: ${DEFAULT-VALUE}).")
    int requestReadTimeoutSeconds;

    @Option(names = "--idle-connection-timeout", defaultValue = "300",
            description = "Seconds after which a keep-alive connection with no request in flight and no traffic is "
                    + "closed; requests being answered are never cut (default: ${DEFAULT-VALUE}).")
    int idleConnectionTimeoutSeconds;

    @Option(names = "--reject-unknown-fields",
            description = "Answer unknown request fields with 400 instead of ignoring them (vLLM ignores them).")
    boolean rejectUnknownFields;

    @Option(names = "--allowed-origins", defaultValue = "[]", paramLabel = "JSON",
            description = "Browser origins allowed to call the API, a JSON list such as '[\"https://app.example\"]' "
                    + "or '[\"*\"]' (default: none, no CORS headers; vLLM allows all).")
    String allowedOrigins;

    @Option(names = "--allowed-methods", defaultValue = "[\"*\"]", paramLabel = "JSON",
            description = "Methods a CORS preflight may ask for, a JSON list (default: ${DEFAULT-VALUE}).")
    String allowedMethods;

    @Option(names = "--allowed-headers", defaultValue = "[\"*\"]", paramLabel = "JSON",
            description = "Request headers a CORS preflight may ask for, a JSON list (default: ${DEFAULT-VALUE}).")
    String allowedHeaders;

    @Option(names = "--allow-credentials",
            description = "Let browsers send credentials cross-origin (Access-Control-Allow-Credentials: true).")
    boolean allowCredentials;

    @Option(names = "--write-stall-timeout", defaultValue = "120", paramLabel = "SECONDS",
            description = "Close a connection whose client has not read what was already sent for this long, aborting "
                    + "its request (a hung client would otherwise hold its slot until max_tokens) (default: "
                    + "${DEFAULT-VALUE}).")
    int writeStallTimeoutSeconds;

    @Option(names = "--responses-store-size", defaultValue = "256", paramLabel = "N",
            description = "Responses API responses kept in memory for GET /v1/responses/{id} and previous_response_id, "
                    + "least recently used dropped first; 0 keeps none (default: ${DEFAULT-VALUE}).")
    int responsesStoreSize;

    @Option(names = "--shutdown-timeout", defaultValue = "30",
            description = "Seconds SIGTERM waits for running requests before aborting them.")
    int shutdownTimeoutSeconds;

    @Option(names = "--max-num-batched-tokens", defaultValue = "2048",
            description = "Tokens fed to the model per step; longer prompts are prefilled in chunks (default: ${DEFAULT-VALUE}).")
    int maxNumBatchedTokens;

    @Option(names = "--max-prefill-step-cost", defaultValue = "auto", paramLabel = "PAIRS",
            description = "Work of the prefill chunks of one engine step, in attention pairs (a chunk of n tokens after "
                    + "p costs n*(p+2048) + n(n+1)/2): deep into a long prompt its chunks shrink, so that no step, and so "
                    + "no other request, waits on it for long; 0 = no cap; auto = 262144 on the CPU backend (~120 fresh "
                    + "tokens a step), no cap on CUDA (default: auto).")
    String maxPrefillCost;

    long prefillCost() {
        if (maxPrefillCost.equalsIgnoreCase("auto")) {
            return RuntimeLoader.Options.AUTO;
        }
        try {
            long v = Long.parseLong(maxPrefillCost.trim());
            if (v >= 0) {
                return v;
            }
        } catch (NumberFormatException e) {
            // the message below
        }
        throw new IllegalArgumentException("--max-prefill-step-cost must be auto or a number >= 0, got " + maxPrefillCost);
    }

    @Option(names = "--kv-cache-memory", defaultValue = "1GiB", paramLabel = "SIZE",
            description = "Memory for the paged KV cache, e.g. 512MiB or 40GiB (default: ${DEFAULT-VALUE}).")
    String kvCacheMemory;

    @Option(names = "--block-size", defaultValue = "16", description = "Tokens per KV cache block (default: ${DEFAULT-VALUE}).")
    int blockSize;

    @Option(names = "--backend", defaultValue = "auto",
            description = "Compute backend: auto (the best usable), cpu or cuda (default: ${DEFAULT-VALUE}).")
    String backend;

    @Option(names = "--batch-invariant",
            description = "Give each token the same bits whatever else is in its batch (vLLM's batch-invariant "
                    + "mode): a seeded request then reproduces under any load. Slower prefill; CPU backend only.")
    boolean batchInvariant;

    @Option(names = "--enforce-eager",
            description = "Run every decode step eagerly: no CUDA graphs (vLLM's flag). By default a CUDA backend "
                    + "replays plain decode steps as one graph per batch bucket (1, 2, 4, ... up to --max-num-seqs), "
                    + "captured on first use; the CPU backend is always eager.")
    boolean enforceEager;

    @Option(names = "--no-web-ui", description = "Do not serve the chat page at / (it is on by default).")
    boolean noWebUi;

    @Option(names = "--otlp-traces-endpoint", paramLabel = "URL",
            description = "Export a trace per request (queue, prefill chunks, decode, media encode) by OTLP over "
                    + "HTTP to this collector, e.g. http://localhost:4318/v1/traces (default: no tracing).")
    String otlpTracesEndpoint;

    @Option(names = "--threads", paramLabel = "N",
            description = "Compute threads of the CPU backend, and of the host backend with --moe-placement cpu|auto "
                    + "(default: all cores the JVM sees).")
    Integer threads;

    @Option(names = "--speculative-config", paramLabel = "JSON",
            description = "Speculative decoding, as vLLM spells it: {\"method\": \"ngram\", "
                    + "\"num_speculative_tokens\": k, \"prompt_lookup_min\": n, \"prompt_lookup_max\": m} or "
                    + "{\"method\": \"suffix\", \"num_speculative_tokens\": k, \"suffix_decoding_max_tree_depth\": 24, "
                    + "\"suffix_decoding_max_spec_factor\": 1.0, \"suffix_decoding_min_token_prob\": 0.1, "
                    + "\"suffix_decoding_max_cached_requests\": 10000} (default: off).")
    String speculativeConfig;

    @Option(names = {"--tensor-parallel-size", "-tp"}, defaultValue = "1", paramLabel = "N",
            description = "Shard the model over N ranks on this host: serve starts N-1 worker processes itself, joined "
                    + "over shared memory; on --backend cuda one GPU per rank, NCCL between them; a model whose heads, experts or quantization groups N cannot "
                    + "divide is refused at start-up (default: ${DEFAULT-VALUE}).")
    int tensorParallelSize;

    @Option(names = "--enable-expert-parallel",
            description = "With --tensor-parallel-size: give each rank whole routed experts (n_routed_experts / N) "
                    + "instead of a slice of every expert.")
    boolean enableExpertParallel;

    @Option(names = "--nnodes", defaultValue = "1", paramLabel = "N",
            description = "Spread the --tensor-parallel-size ranks over N hosts, the same number on each (default: "
                    + "${DEFAULT-VALUE}). Node 0 serves HTTP; run the same command with --node-rank 1..N-1 on the others.")
    int nnodes;

    @Option(names = "--node-rank", defaultValue = "0", paramLabel = "R",
            description = "This host's place among --nnodes (default: ${DEFAULT-VALUE}). A node above 0 serves no HTTP: "
                    + "it starts its ranks, joins node 0 and exits when they end.")
    int nodeRank;

    @Option(names = "--master-addr", paramLabel = "HOST",
            description = "Node 0's address as the other nodes reach it (required on --node-rank above 0).")
    String masterAddr;

    @Option(names = "--master-port", defaultValue = "" + Nodes.DEFAULT_PORT, paramLabel = "PORT",
            description = "The TCP port node 0 listens on for the other nodes' ranks (default: ${DEFAULT-VALUE}).")
    int masterPort;

    @Option(names = "--demo-preset", defaultValue = "demo",
            description = "Demo checkpoint preset served when --model is absent: tiny, demo or bench (default: ${DEFAULT-VALUE}).")
    String demoPreset;

    // ---- routed experts on the host (issue 20, docs/hybrid.md) ----

    @Option(names = "--moe-placement", defaultValue = "gpu", paramLabel = "gpu|cpu|auto",
            description = "Where the routed experts live: gpu, with the rest of the model on the --backend device; cpu, "
                    + "all in host memory, computed by the CPU while the device runs attention, the router and the "
                    + "shared expert (llama.cpp's -ot exps=CPU, KTransformers); auto, those that fit --moe-gpu-memory "
                    + "on the device and the rest on the host (default: ${DEFAULT-VALUE}).")
    String moePlacement;

    @Option(names = "--moe-gpu-memory", paramLabel = "SIZE",
            description = "With --moe-placement auto: bytes of weights the device may hold, e.g. 120GiB (the weights "
                    + "other than routed experts must fit; the KV cache, --kv-cache-memory, comes on top).")
    String moeGpuMemory;

    @Option(names = "--moe-routing-histogram", paramLabel = "FILE",
            description = "Routing counts per expert: read at start when the file exists (auto then keeps the most "
                    + "routed experts on the device), this run's counts added and written on shutdown.")
    Path moeRoutingHistogram;

    RuntimeLoader.MoeOptions moeOptions() {
        return new RuntimeLoader.MoeOptions(io.peregrine.engine.model.ExpertPlacement.Mode.parse(moePlacement),
                moeGpuMemory == null ? 0 : parseBytes(moeGpuMemory), moeRoutingHistogram);
    }

    @Override
    public Integer call() throws Exception {
        RuntimeLoader.Parallel parallel;
        try {
            parallel = new RuntimeLoader.Parallel(tensorParallelSize, enableExpertParallel,
                    new Nodes(nnodes, nodeRank, masterAddr, masterPort));
        } catch (IllegalArgumentException e) {
            LOG.severe(e.getMessage());
            return 2;
        }
        if (nodeRank > 0) {
            try {
                return RuntimeLoader.runNode(model, demoPreset, backend, threads, batchInvariant, parallel);
            } catch (RuntimeException e) {
                LOG.severe("node " + nodeRank + " failed to start: " + e.getMessage());
                return 1;
            }
        }
        ServerConfig config = serverConfig();
        long kvBytes = parseBytes(kvCacheMemory);
        long encoderBytes = parseBytes(encoderCacheMemory);
        String heap = heapReport(Runtime.getRuntime().maxMemory(), kvBytes, noVision ? 0 : encoderBytes);
        if (heap.startsWith("heap too small")) {
            LOG.severe(heap);
            return 1;
        }
        LOG.info(heap);
        SpeculativeConfig speculative = speculativeConfig(speculativeConfig);
        ServingState state = new ServingState();
        String name = servedModelNames.isEmpty()
                ? (model == null ? "peregrine-demo" : model.toAbsolutePath().normalize().getFileName().toString())
                : servedModelNames.getFirst();
        List<String> names = servedModelNames.isEmpty() ? List.of(name) : List.copyOf(servedModelNames);
        ServerMetrics metrics = new ServerMetrics(name, state::stats);
        Tracing tracing = otlpTracesEndpoint == null ? Tracing.off() : Tracing.otlp(otlpTracesEndpoint, "peregrine");
        HttpServer server = HttpServer.start(config, state, metrics, noWebUi ? WebUi.off() : WebUi.fromResources(),
                tracing);
        LOG.info("listening on " + config.host() + ":" + server.port());
        if (tracing.enabled()) {
            LOG.info("tracing: spans exported by OTLP/HTTP to " + otlpTracesEndpoint);
        }
        // SIGTERM runs the hook; it drains, then closes the server (then exports the last spans), and the JVM exits
        // when it returns.
        Runnable shutdown = new ShutdownSequence(state, server, shutdownTimeoutSeconds * 1000L);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            shutdown.run();
            tracing.close();
        }, "peregrine-shutdown"));
        try {
            state.ready(RuntimeLoader.load(new RuntimeLoader.Options(model, names, maxModelLen, maxNumSeqs, maxWaiting,
                    maxNumBatchedTokens, kvBytes, blockSize, backend, demoPreset, mediaOptions(),
                    batchInvariant, chatTemplate, prefillCost(), threads, speculative, moeOptions(), enforceEager),
                    parallel, state, metrics, tracing));
            LOG.info("ready: serving " + names);
        } catch (Exception | LinkageError e) {
            LOG.log(Level.SEVERE, "model load failed", e);
            state.failed(String.valueOf(e.getMessage()));
            return 1;
        }
        new CountDownLatch(1).await();
        return 0;
    }

    RuntimeLoader.MediaOptions mediaOptions() {
        long maxBytes = parseBytes(maxMediaBytes);
        MediaFetchPolicy fetch = new MediaFetchPolicy(allowedLocalMediaPath, allowMediaUrls, allowPrivateMediaUrls,
                java.time.Duration.ofSeconds(mediaFetchTimeoutSeconds), maxBytes);
        VideoLimits d = VideoLimits.DEFAULT;
        boolean auto = maxVisionTokens.equalsIgnoreCase("auto");
        int tokens;
        try {
            tokens = auto ? MediaBudget.DEFAULT.maxVisionTokens() : Integer.parseInt(maxVisionTokens.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--max-vision-tokens-per-request must be a number or auto, got "
                    + maxVisionTokens);
        }
        MediaBudget budget = new MediaBudget(tokens,
                new VideoLimits(maxBytes, maxVideoSeconds, maxVideoFrames, d.maxPixelsPerFrame(), tokens),
                new PdfLimits(maxBytes, maxPdfPages));
        EncoderTpMode tpMode = EncoderTpMode.parse(mmEncoderTpMode);
        if (tpMode == EncoderTpMode.DATA && tensorParallelSize > 1) {
            throw new IllegalArgumentException("--mm-encoder-tp-mode data with --tensor-parallel-size "
                    + tensorParallelSize + ": the per-rank vision encoders are not wired to the sharded ranks yet"
                    + " (docs/vision.md); use weights (rank 0 encodes every item)");
        }
        return new RuntimeLoader.MediaOptions(!noVision, RuntimeLoader.MediaOptions.defaultOnnxCacheDir(), fetch, budget,
                parseBytes(encoderCacheMemory), auto, EncoderPlacement.parse(mmEncoderBackend), tpMode);
    }

    /**
     * The start-up line on the heap: its cap and the caches that live on it (the KV cache is allocated at load, the
     * encoder cache fills up to its size). A cap below the two together would end in an OutOfMemoryError on the
     * engine thread mid-load, or later under load; it is refused up front, naming the launcher's knobs.
     */
    static String heapReport(long maxHeap, long kvBytes, long encoderBytes) {
        String sizes = String.format("max %d MiB for a %d MiB KV cache and a %d MiB vision encoder cache",
                maxHeap >> 20, kvBytes >> 20, encoderBytes >> 20);
        if (maxHeap < kvBytes + encoderBytes + (256L << 20)) {
            return "heap too small: " + sizes + " (and at least 256 MiB for requests); raise -Xmx (the ./peregrine "
                    + "launcher sizes it from --kv-cache-memory and --encoder-cache-memory; PEREGRINE_HEAP sets it) "
                    + "or lower --kv-cache-memory";
        }
        return "heap: " + sizes + " (the weights are memory-mapped, off the heap)";
    }

    /** {@code 1073741824}, {@code 512MiB}, {@code 40GiB}, {@code 2GB}. */
    static long parseBytes(String text) {
        String t = text.trim().toUpperCase(java.util.Locale.ROOT);
        long unit = 1;
        for (String[] u : new String[][] {{"GIB", "1073741824"}, {"MIB", "1048576"}, {"KIB", "1024"},
                {"GB", "1000000000"}, {"MB", "1000000"}, {"KB", "1000"}, {"G", "1073741824"}, {"M", "1048576"},
                {"K", "1024"}, {"B", "1"}}) {
            if (t.endsWith(u[0])) {
                unit = Long.parseLong(u[1]);
                t = t.substring(0, t.length() - u[0].length()).trim();
                break;
            }
        }
        try {
            double v = Double.parseDouble(t);
            if (v <= 0) {
                throw new NumberFormatException();
            }
            return (long) (v * unit);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad size '" + text + "': use e.g. 512MiB or 4GiB");
        }
    }

    ServerConfig serverConfig() throws IOException {
        List<String> keys = new ArrayList<>(apiKeys);
        String env = System.getenv("PEREGRINE_API_KEY");
        if (env != null && !env.isBlank()) {
            keys.add(env.trim());
        }
        if (apiKeyFile != null) {
            for (String line : Files.readAllLines(apiKeyFile)) {
                String k = line.trim();
                if (!k.isEmpty() && !k.startsWith("#")) {
                    keys.add(k);
                }
            }
        }
        SamplingPolicy policy = switch (samplingPolicy) {
            case "free" -> SamplingPolicy.FREE;
            case "moonshot" -> SamplingPolicy.MOONSHOT;
            default -> throw new IllegalArgumentException("--sampling-policy must be free or moonshot, got " + samplingPolicy);
        };
        ReasoningField field = switch (reasoningField) {
            case "both" -> ReasoningField.BOTH;
            case "reasoning_content" -> ReasoningField.REASONING_CONTENT;
            case "reasoning" -> ReasoningField.REASONING;
            default -> throw new IllegalArgumentException(
                    "--reasoning-field must be both, reasoning_content or reasoning, got " + reasoningField);
        };
        JsonNode mm = Json.newMapper().readTree(limitMm);
        if (mm == null || !mm.isObject()) {
            throw new IllegalArgumentException("--limit-mm-per-prompt must be a JSON object like {\"image\": 4}");
        }
        MediaLimits media = new MediaLimits(mm.path("image").asInt(16), mm.path("video").asInt(1));
        return new ServerConfig(host, port, maxBodyBytes, new ApiKeys(keys), policy, field, media,
                java.time.Duration.ofSeconds(sseKeepAliveSeconds), rejectUnknownFields,
                java.time.Duration.ofSeconds(requestReadTimeoutSeconds),
                java.time.Duration.ofSeconds(idleConnectionTimeoutSeconds),
                new CorsPolicy(jsonList(allowedOrigins, "--allowed-origins"), jsonList(allowedMethods, "--allowed-methods"),
                        jsonList(allowedHeaders, "--allowed-headers"), allowCredentials), responsesStoreSize,
                java.time.Duration.ofSeconds(writeStallTimeoutSeconds));
    }

    /**
     * {@code --speculative-config} as vLLM reads it: {@code method} required, and {@code num_speculative_tokens}
     * (for suffix it defaults to {@code suffix_decoding_max_tree_depth}, as in vLLM, capped at
     * {@link SpeculativeConfig#MAX_SPECULATIVE_TOKENS}). ngram: {@code prompt_lookup_max} defaults to
     * {@code prompt_lookup_min} or 5, and {@code prompt_lookup_min} to {@code prompt_lookup_max}. suffix: the four
     * {@code suffix_decoding_*} settings with vLLM's defaults. Unknown methods, unknown fields and fields of another
     * method are start-up errors; null text: no speculation.
     */
    static SpeculativeConfig speculativeConfig(String text) {
        if (text == null) {
            return null;
        }
        JsonNode node;
        try {
            node = Json.newMapper().readTree(text);
        } catch (IOException e) {
            node = null;
        }
        if (node == null || !node.isObject()) {
            throw new IllegalArgumentException("--speculative-config must be a JSON object like "
                    + "{\"method\": \"ngram\", \"num_speculative_tokens\": 3}, got " + text);
        }
        JsonNode method = node.get("method");
        if (method == null || !method.isTextual()) {
            throw new IllegalArgumentException("--speculative-config needs \"method\" (a string), got " + text);
        }
        java.util.Set<String> known = switch (method.asText()) {
            case "ngram" -> java.util.Set.of("method", "num_speculative_tokens", "prompt_lookup_min",
                    "prompt_lookup_max");
            case "suffix" -> java.util.Set.of("method", "num_speculative_tokens", "suffix_decoding_max_tree_depth",
                    "suffix_decoding_max_spec_factor", "suffix_decoding_min_token_prob",
                    "suffix_decoding_max_cached_requests");
            default -> throw new IllegalArgumentException("--speculative-config: speculative method '"
                    + method.asText() + "' is not supported (supported: ngram, suffix; eagle3 is not built yet)");
        };
        for (String field : (Iterable<String>) node::fieldNames) {
            if (!known.contains(field)) {
                throw new IllegalArgumentException("--speculative-config: unsupported field '" + field
                        + "' for method " + method.asText() + " (supported: "
                        + String.join(", ", new java.util.TreeSet<>(known)) + ")");
            }
        }
        Integer k = integer(node, "num_speculative_tokens");
        try {
            if (method.asText().equals("suffix")) {
                SpeculativeConfig.Suffix d = SpeculativeConfig.Suffix.DEFAULTS;
                Integer depth = integer(node, "suffix_decoding_max_tree_depth");
                Integer cachedRequests = integer(node, "suffix_decoding_max_cached_requests");
                Float factor = number(node, "suffix_decoding_max_spec_factor");
                Float minProb = number(node, "suffix_decoding_min_token_prob");
                var suffix = new SpeculativeConfig.Suffix(depth != null ? depth : d.maxTreeDepth(),
                        factor != null ? factor : d.maxSpecFactor(), minProb != null ? minProb : d.minTokenProb(),
                        cachedRequests != null ? cachedRequests : d.maxCachedRequests());
                int tokens = k != null ? k
                        : Math.min(suffix.maxTreeDepth(), SpeculativeConfig.MAX_SPECULATIVE_TOKENS);
                return new SpeculativeConfig(tokens, suffix);
            }
            if (k == null) {
                throw new IllegalArgumentException("needs \"num_speculative_tokens\" (an integer), got " + text);
            }
            Integer min = integer(node, "prompt_lookup_min");
            Integer max = integer(node, "prompt_lookup_max");
            int lookupMax = max != null ? max : min != null ? min : 5;
            int lookupMin = min != null ? min : lookupMax;
            return SpeculativeConfig.ngram(k, lookupMin, lookupMax);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--speculative-config: " + e.getMessage(), e);
        }
    }

    private static Integer integer(JsonNode node, String field) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw new IllegalArgumentException("--speculative-config: " + field + " must be an integer, got " + v);
        }
        return v.asInt();
    }

    private static Float number(JsonNode node, String field) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isNumber()) {
            throw new IllegalArgumentException("--speculative-config: " + field + " must be a number, got " + v);
        }
        return v.floatValue();
    }

    /** vLLM's spelling: a JSON list of strings. */
    static List<String> jsonList(String text, String flag) {
        JsonNode node;
        try {
            node = Json.newMapper().readTree(text);
        } catch (IOException e) {
            node = null;
        }
        List<String> out = new ArrayList<>();
        if (node != null && node.isArray()) {
            for (JsonNode v : node) {
                if (!v.isTextual()) {
                    node = null;
                    break;
                }
                out.add(v.textValue());
            }
        }
        if (node == null || !node.isArray()) {
            throw new IllegalArgumentException(flag + " must be a JSON list of strings like '[\"*\"]', got " + text);
        }
        return out;
    }
}
