package io.peregrine.engine.model;

import io.peregrine.engine.backend.cpu.CpuBackend;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.dist.Communicator;
import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.shard.ShardingPlan;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * What every rank of a sharded-forward test runs, in the same order: the tiny checkpoint loaded by shard, then for
 * each of the last {@code cases} text-golden cases the whole prompt prefilled (all logits) and {@code steps} greedy tokens decoded one at a time
 * through a paged cache walked backwards. Rank 0 picks each token from the gathered logits and broadcasts it, as the
 * serving rank will.
 */
final class ShardedScript {
    static final int BLOCK = 16;

    /** One case's prefill logits, then the logits that chose each greedy token, and the tokens. */
    record CaseRun(String name, float[][] prefill, float[][] steps, int[] greedy) {}

    record Result(long bytesRead, List<CaseRun> cases) {}

    private ShardedScript() {}

    static Result run(Checkpoint ck, ShardingPlan plan, Communicator comm, int steps, int cases) {
        try (CpuBackend backend = new CpuBackend(1)) {
            KimiTextModel model = KimiTextModel.load(ck, backend, TextShard.of(plan, comm.rank()), comm, p -> { });
            List<CaseRun> runs = new ArrayList<>();
            float[] chosen = new float[1];
            MemorySegment chosenSegment = MemorySegment.ofArray(chosen);
            List<GoldenCases> all = GoldenCases.all();
            for (GoldenCases c : all.subList(all.size() - cases, all.size())) {
                int total = c.prompt().length + steps;
                int blocks = (total + BLOCK - 1) / BLOCK;
                LatentCache cache = model.newCache(blocks, BLOCK);
                int[] table = TinyModel.reversedBlocks(blocks);
                float[][] prefill = forward(model, c.prompt(), 0, table, cache, true);
                float[][] stepLogits = new float[steps][];
                int[] greedy = new int[steps];
                float[] last = prefill[prefill.length - 1];
                for (int s = 0; s < steps; s++) {
                    stepLogits[s] = last;
                    chosen[0] = comm.rank() == 0 ? Logits.argmax(last) : -1;
                    comm.broadcast(chosenSegment, 1, 0);
                    greedy[s] = (int) chosen[0];
                    if (s + 1 < steps) {
                        last = forward(model, new int[] {greedy[s]}, c.prompt().length + s, table, cache, false)[0];
                    }
                }
                runs.add(new CaseRun(c.name(), prefill, stepLogits, greedy));
            }
            return new Result(model.weightBytesRead(), runs);
        }
    }

    private static float[][] forward(KimiTextModel model, int[] tokens, int start, int[] table, LatentCache cache,
                                     boolean all) {
        return model.forward(List.of(new SequenceSlice(tokens, start, table, all)), cache).getFirst();
    }
}
