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
 * What every rank of a sharded-forward test runs, in the same order: a checkpoint loaded by shard, then for each
 * prompt the whole prompt prefilled (all logits) and {@code steps} greedy tokens decoded one at a time through a paged
 * cache walked backwards. Rank 0 picks each token from the gathered logits and broadcasts it, as the
 * serving rank will.
 */
final class ShardedScript {
    static final int BLOCK = 16;

    /** One case's prefill logits, then the logits that chose each greedy token, and the tokens. */
    record CaseRun(String name, float[][] prefill, float[][] steps, int[] greedy) {}

    record Result(long bytesRead, List<CaseRun> cases) {}

    record Prompt(String name, int[] ids) {}

    /**
     * {@code golden:N}: the last N text-golden cases of the tiny checkpoint; {@code spread:V}: a 24-token prompt whose
     * ids fall in every part of a V-entry vocabulary, and a one-token prompt.
     */
    static List<Prompt> prompts(String spec) {
        String[] kv = spec.split(":");
        int n = Integer.parseInt(kv[1]);
        if (kv[0].equals("golden")) {
            List<GoldenCases> all = GoldenCases.all();
            return all.subList(all.size() - n, all.size()).stream().map(c -> new Prompt(c.name(), c.prompt())).toList();
        }
        java.util.Random random = new java.util.Random(15);
        int[] ids = new int[24];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = (int) ((long) n * i / ids.length) + random.nextInt(n / ids.length);
        }
        return List.of(new Prompt("spread", ids), new Prompt("one", new int[] {n - 1}));
    }

    private ShardedScript() {}

    static Result run(Checkpoint ck, ShardingPlan plan, Communicator comm, int steps, List<Prompt> prompts) {
        try (CpuBackend backend = new CpuBackend(1)) {
            KimiTextModel model = KimiTextModel.load(ck, backend, TextShard.of(plan, comm.rank()), comm, p -> { });
            List<CaseRun> runs = new ArrayList<>();
            float[] chosen = new float[1];
            MemorySegment chosenSegment = MemorySegment.ofArray(chosen);
            for (Prompt c : prompts) {
                int total = c.ids().length + steps;
                int blocks = (total + BLOCK - 1) / BLOCK;
                LatentCache cache = model.newCache(blocks, BLOCK);
                int[] table = TinyModel.reversedBlocks(blocks);
                float[][] prefill = forward(model, c.ids(), 0, table, cache, true);
                float[][] stepLogits = new float[steps][];
                int[] greedy = new int[steps];
                float[] last = prefill[prefill.length - 1];
                for (int s = 0; s < steps; s++) {
                    stepLogits[s] = last;
                    chosen[0] = comm.rank() == 0 ? Logits.argmax(last) : -1;
                    comm.broadcast(chosenSegment, 1, 0);
                    greedy[s] = (int) chosen[0];
                    if (s + 1 < steps) {
                        last = forward(model, new int[] {greedy[s]}, c.ids().length + s, table, cache, false)[0];
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
