package io.peregrine.server.cli;

import io.peregrine.engine.config.ConfigException;
import io.peregrine.engine.config.ConfigParser;
import io.peregrine.engine.config.ModelConfig;
import io.peregrine.engine.model.ExpertPlacement;
import io.peregrine.engine.model.PlacementReport;
import io.peregrine.engine.shard.CapacityPlan;
import io.peregrine.engine.shard.RankWeights;
import io.peregrine.engine.shard.ShardingException;
import io.peregrine.engine.shard.ShardingPlan;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code peregrine plan}: will a checkpoint fit these GPUs under tensor (and expert) parallelism, and how much cache. */
@Command(name = "plan", mixinStandardHelpOptions = true,
        description = {"Plan a multi-GPU deployment from config.json alone: weight bytes per rank under the sharding "
                + "plan (attention by head, experts by TP or EP, vocabulary split, latent cache and vision tower "
                + "replicated), the reserve kept, KV-cache tokens per rank and the most concurrent sequences at "
                + "--max-model-len.",
                "Exit status: 0 it fits, 1 refused (does not fit, or counts the ranks cannot divide), 2 unreadable "
                        + "config or bad flags."})
public final class PlanCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR|config.json",
            description = "Checkpoint directory or its config.json.")
    Path model;

    @Option(names = "--gpus", defaultValue = "1", description = "GPUs of the node (default: ${DEFAULT-VALUE}).")
    int gpus;

    @Option(names = "--gpu-memory", required = true, paramLabel = "SIZE", description = "Memory of one GPU, e.g. 141GiB.")
    String gpuMemory;

    @Option(names = "--tensor-parallel-size", paramLabel = "N", description = "Tensor-parallel ranks (default: --gpus).")
    Integer tensorParallelSize;

    @Option(names = "--enable-expert-parallel",
            description = "Routed experts whole, n_routed_experts / N per rank, instead of each split by TP.")
    boolean expertParallel;

    @Option(names = "--max-model-len", paramLabel = "TOKENS",
            description = "Context length of one sequence (default: the model's max_position_embeddings).")
    Integer maxModelLen;

    @Option(names = "--kv-cache-dtype", defaultValue = "auto",
            description = "auto (the model's bf16), bfloat16, fp8, fp8_e4m3, fp8_e5m2 or float32 (default: ${DEFAULT-VALUE}).")
    String kvCacheDtype;

    @Option(names = "--kv-cache-memory", paramLabel = "SIZE",
            description = "KV cache per GPU, as serve takes it (default: what is left of --gpu-memory-utilization).")
    String kvCacheMemory;

    @Option(names = "--gpu-memory-utilization", defaultValue = "0.9",
            description = "Share of GPU memory used when --kv-cache-memory is absent (default: ${DEFAULT-VALUE}).")
    double utilization;

    @Option(names = "--reserve-memory", paramLabel = "SIZE", defaultValue = "8.6GiB",
            description = "Kept per GPU for activations, CUDA graphs, NCCL and the CUDA context (default: ${DEFAULT-VALUE}, "
                    + "what vLLM left for Kimi-K2-Thinking at TP8 on H200).")
    String reserveMemory;

    @Option(names = "--block-size", defaultValue = "64",
            description = "Tokens per KV block (default: ${DEFAULT-VALUE}, FlashMLA's).")
    int blockSize;

    @Option(names = "--moe-placement", defaultValue = "gpu", paramLabel = "gpu|cpu|auto",
            description = "As serve takes it: routed experts on the GPU, all on the host (cpu), or those that fit "
                    + "--moe-gpu-memory on the GPU (auto); cpu and auto plan one GPU plus the host and print which "
                    + "experts go where and the bytes per decoded token from DRAM and from HBM (default: ${DEFAULT-VALUE}).")
    String moePlacement;

    @Option(names = "--moe-gpu-memory", paramLabel = "SIZE",
            description = "With --moe-placement auto: bytes of weights the GPU may hold.")
    String moeGpuMemory;

    @Option(names = "--moe-routing-histogram", paramLabel = "FILE",
            description = "Routing counts per expert (serve writes them): auto keeps the most routed on the GPU, and "
                    + "the bytes per token follow the counts instead of uniform routing.")
    Path moeRoutingHistogram;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        ModelConfig config;
        CapacityPlan.Request request;
        try {
            config = Files.isDirectory(model) ? ConfigParser.read(model)
                    : ConfigParser.parse(model.toString(), ConfigParser.readJson(model), null);
            if (gpus < 1 || blockSize < 1 || !(utilization > 0 && utilization <= 1)) {
                throw new IllegalArgumentException("--gpus and --block-size must be at least 1 and "
                        + "--gpu-memory-utilization in (0, 1]");
            }
            int len = maxModelLen != null ? maxModelLen : config.text().maxPositionEmbeddings();
            request = new CapacityPlan.Request(gpus, ServeCommand.parseBytes(gpuMemory), utilization,
                    ServeCommand.parseBytes(reserveMemory), kvCacheMemory == null ? OptionalLong.empty()
                    : OptionalLong.of(ServeCommand.parseBytes(kvCacheMemory)), len, kvBytesPerValue(kvCacheDtype), blockSize);
        } catch (ConfigException | IllegalArgumentException e) {
            spec.commandLine().getErr().println("peregrine plan: " + e.getMessage());
            return 2;
        }
        ExpertPlacement placement;
        ExpertPlacement.RoutingHistogram histogram = null;
        try {
            ExpertPlacement.Mode mode = ExpertPlacement.Mode.parse(moePlacement);
            if (mode != ExpertPlacement.Mode.GPU && (gpus != 1 || tensorParallelSize != null && tensorParallelSize != 1)) {
                throw new IllegalArgumentException("--moe-placement " + moePlacement + " plans one GPU and the host");
            }
            if (moeRoutingHistogram != null) {
                histogram = ExpertPlacement.RoutingHistogram.read(moeRoutingHistogram);
            }
            placement = switch (mode) {
                case GPU -> null;
                case CPU -> ExpertPlacement.host(config.text());
                case AUTO -> {
                    if (moeGpuMemory == null) {
                        throw new IllegalArgumentException("--moe-placement auto needs --moe-gpu-memory");
                    }
                    yield ExpertPlacement.auto(config, ServeCommand.parseBytes(moeGpuMemory), histogram);
                }
                case CUSTOM -> throw new IllegalArgumentException("--moe-placement must be gpu, cpu or auto");
            };
        } catch (IllegalArgumentException | java.io.IOException e) {
            spec.commandLine().getErr().println("peregrine plan: " + e.getMessage());
            return 2;
        }
        try {
            int ranks = tensorParallelSize != null ? tensorParallelSize : gpus;
            ShardingPlan sharding = new ShardingPlan(config, ranks, expertParallel);
            CapacityPlan plan = placement == null ? CapacityPlan.of(sharding, request)
                    : CapacityPlan.of(RankWeights.of(sharding, placement.primaryTensors(config)), request);
            if (placement != null) {
                spec.commandLine().getOut().print(PlacementReport.of(placement, config, histogram).render(placement));
            }
            spec.commandLine().getOut().print(plan.render());
            spec.commandLine().getOut().flush();
            return plan.fits() ? 0 : 1;
        } catch (ShardingException e) {
            spec.commandLine().getOut().println("Refused: " + e.getMessage());
            spec.commandLine().getOut().flush();
            return 1;
        }
    }

    static int kvBytesPerValue(String dtype) {
        return switch (dtype) {
            case "auto", "bfloat16", "bf16" -> 2;
            case "fp8", "fp8_e4m3", "fp8_e5m2" -> 1;
            case "float32", "fp32" -> 4;
            default -> throw new IllegalArgumentException("--kv-cache-dtype must be auto, bfloat16, fp8, fp8_e4m3, "
                    + "fp8_e5m2 or float32, got " + dtype);
        };
    }
}
