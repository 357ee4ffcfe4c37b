package io.peregrine.kernels.nccl;

import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.dist.Communicator;
import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.model.KimiTextModel;
import io.peregrine.engine.model.SequenceSlice;
import io.peregrine.engine.model.TextShard;
import io.peregrine.engine.shard.ShardingPlan;
import io.peregrine.kernels.cuda.CudaBackend;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;

/**
 * The sharded code path on one GPU, for the GPU check: the golden tiny checkpoint on {@link CudaBackend}, once as the
 * plain model and once as rank 0 of a one-rank NCCL group ({@code ShardingPlan(config, 1, false)}, an
 * {@link NcclCommunicator} over {@code libnccl.so.2} on the backend's stream), so every all-reduce of the step runs
 * through NCCL on the device activations. A group of one sums nothing, so the logits must be the plain model's bit
 * for bit: a wrong address, stream or count shows. Exit status 0 on success, 1 on a difference, 2 when NCCL or CUDA
 * is missing. {@code --dry-run}: the plan and shard only (class loading, no device).
 *
 * <p>Run: {@code java --enable-native-access=ALL-UNNAMED -cp ... io.peregrine.kernels.nccl.ShardedNcclSmoke
 * --testdata DIR [--dry-run]}.
 */
public final class ShardedNcclSmoke {
    private ShardedNcclSmoke() {}

    public static void main(String[] args) throws Exception {
        Path testdata = Path.of("testdata");
        boolean dry = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--testdata" -> testdata = Path.of(args[++i]);
                case "--dry-run" -> dry = true;
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        Path tiny = testdata.resolve("golden").resolve("tiny-k25");
        if (dry) {
            try (Checkpoint ck = Checkpoint.open(tiny)) {
                TextShard shard = TextShard.of(new ShardingPlan(ck.config(), 1, false), 0);
                System.out.println("sharded nccl smoke: dry run: the one-rank shard of " + tiny + " holds " + shard.heads() + " heads");
            }
            return;
        }
        FfmNccl nccl;
        try {
            nccl = FfmNccl.load();
        } catch (NcclUnavailableException e) {
            System.out.println("sharded nccl smoke: unavailable: " + e.getMessage());
            System.exit(2);
            return;
        }
        System.exit(run(nccl, tiny));
    }

    private static int run(NcclApi nccl, Path tiny) {
        int[] prompt = {1792, 100, 200, 300, 7, 11, 13};
        try (Checkpoint ck = Checkpoint.open(tiny);
             CudaBackend backend = CudaBackend.open(0, CudaBackend.Options.FP32);
             Arena arena = Arena.ofConfined()) {
            float[][] plain = prefill(KimiTextModel.load(ck, backend), prompt);
            backend.context().makeCurrent();
            MemorySegment id = NcclBootstrap.uniqueId(nccl, new io.peregrine.engine.dist.SingleRank(), arena);
            MemorySegment scratch = backend.segment(backend.allocate(1, 1));
            try (Communicator comm = NcclCommunicator.open(nccl, 0, 1, id, new ContextStream(backend.context()),
                    scratch)) {
                KimiTextModel sharded = KimiTextModel.load(ck, backend,
                        TextShard.of(new ShardingPlan(ck.config(), 1, false), 0), comm, p -> { });
                float[][] viaNccl = prefill(sharded, prompt);
                comm.barrier();
                int differ = 0;
                for (int t = 0; t < plain.length; t++) {
                    for (int v = 0; v < plain[t].length; v++) {
                        if (Float.floatToRawIntBits(plain[t][v]) != Float.floatToRawIntBits(viaNccl[t][v])) {
                            if (differ++ < 5) {
                                System.out.println("sharded nccl smoke: row " + t + " logit " + v + ": plain "
                                        + plain[t][v] + ", through NCCL " + viaNccl[t][v]);
                            }
                        }
                    }
                }
                System.out.println(differ == 0 ? "sharded nccl smoke: OK (" + plain.length + " prefill rows of "
                        + plain[0].length + " logits through one-rank NCCL all-reduces on the device activations, "
                        + "bit-identical to the plain model)" : "sharded nccl smoke: FAILED (" + differ + " logits differ)");
                return differ == 0 ? 0 : 1;
            }
        }
    }

    private static float[][] prefill(KimiTextModel model, int[] prompt) {
        LatentCache cache = model.newCache(4, 16);
        List<float[][]> out = model.forward(List.of(new SequenceSlice(prompt, 0, new int[] {0}, true)), cache);
        return out.getFirst();
    }
}
