package io.peregrine.engine.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.kv.BlockManager;
import io.peregrine.engine.kv.LatentCache;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The scheduling policy with no model: "running" a step means marking its slices computed and sampling 7. */
class SchedulerTest {
    private static final int BS = 4;
    private long ids;

    private Sequence seq(int len, int firstToken) {
        int[] p = new int[len];
        for (int i = 0; i < len; i++) {
            p[i] = firstToken + i;
        }
        long id = ids++;
        return new Sequence(id, p, id);
    }

    private static ScheduledBatch step(Scheduler s) {
        ScheduledBatch b = s.schedule();
        s.completed(b);
        for (ScheduledBatch.Slice sl : b.slices()) {
            if (sl.samples()) {
                sl.sequence().append(7);
            }
        }
        return b;
    }

    private static List<String> shape(ScheduledBatch b) {
        List<String> out = new ArrayList<>();
        for (ScheduledBatch.Slice sl : b.slices()) {
            out.add(sl.sequence().id() + ":" + sl.start() + "+" + sl.count());
        }
        return out;
    }

    @Test
    void longPromptIsChunkedUnderTheBudgetWhileOthersDecode() {
        Scheduler s = new Scheduler(new SchedulerConfig(4, 16), new BlockManager(64, BS));
        Sequence shortOne = seq(3, 0);
        Sequence longOne = seq(40, 100);
        s.add(shortOne);
        s.add(longOne);
        assertEquals(List.of("0:0+3", "1:0+13"), shape(step(s)));
        assertEquals(List.of("0:3+1", "1:13+15"), shape(step(s)));
        assertEquals(List.of("0:4+1", "1:28+12"), shape(step(s)));
        assertEquals(41, longOne.length(), "the last chunk samples the first token");
        assertEquals(List.of("0:5+1", "1:40+1"), shape(step(s)));
    }

    /** n·(p + TOKEN_COST) + n(n+1)/2: a chunk's attention pairs plus its tokens' share of the weights. */
    private static long cost(ScheduledBatch.Slice sl) {
        long n = sl.count();
        return n * (sl.start() + SchedulerConfig.TOKEN_COST) + n * (n + 1) / 2;
    }

    @Test
    void deepIntoALongPromptChunksShrinkSoThatEveryStepsWorkIsBounded() {
        long cap = 200_000;
        Scheduler s = new Scheduler(new SchedulerConfig(4, 512, cap), new BlockManager(1024, BS));
        Sequence longOne = seq(3_000, 100);
        s.add(longOne);
        List<Integer> chunks = new ArrayList<>();
        while (longOne.length() < 3_001) {
            ScheduledBatch b = step(s);
            assertEquals(1, b.slices().size());
            assertTrue(cost(b.slices().getFirst()) <= cap, "a step over the cap: " + shape(b));
            chunks.add(b.slices().getFirst().count());
        }
        assertEquals(95, chunks.getFirst(), "95 fresh tokens cost 199,120; 96 would cost 201,264");
        assertTrue(chunks.getLast() < 45, "3,000 tokens in, a chunk is under half the first: " + chunks);
        // Alone, it still progresses every step: nothing is starved.
        assertEquals(3_001, longOne.length());
        // One token always goes, however deep: a step over the cap with nothing scheduled would stall it forever.
        Scheduler tight = new Scheduler(new SchedulerConfig(4, 512, 100), new BlockManager(1024, BS));
        Sequence deep = seq(40, 100);
        tight.add(deep);
        assertEquals(List.of(deep.id() + ":0+1"), shape(step(tight)));
        assertEquals(List.of(deep.id() + ":1+1"), shape(step(tight)));
    }

    @Test
    void aShortPromptArrivingDuringALongPrefillIsAdmittedAtOnceAndDecodesEveryStep() {
        Scheduler s = new Scheduler(new SchedulerConfig(4, 512, 200_000), new BlockManager(1024, BS));
        Sequence longOne = seq(3_000, 100);
        s.add(longOne);
        for (int i = 0; i < 20; i++) {
            step(s);
        }
        Sequence tiny = seq(12, 5_000);
        s.add(tiny);
        ScheduledBatch admit = step(s);
        assertEquals(2, admit.slices().size(), shape(admit).toString());
        assertEquals("1:0+12", shape(admit).get(1), "the whole short prompt in the step it arrived");
        for (int i = 0; i < 3; i++) {
            ScheduledBatch b = step(s);
            assertEquals("1:" + (12 + i) + "+1", shape(b).getFirst(), "its decode leads every step: " + shape(b));
            assertTrue(shape(b).size() == 2, "and the long prefill keeps going: " + shape(b));
        }
        // Without the cap the long prompt's chunk takes the whole token budget and the short one waits.
        Scheduler uncapped = new Scheduler(new SchedulerConfig(4, 512), new BlockManager(1024, BS));
        uncapped.add(seq(3_000, 100));
        step(uncapped);
        uncapped.add(seq(12, 5_000));
        assertEquals(1, step(uncapped).slices().size());
    }

    @Test
    void decodesGoFirstEvenWhenAnOlderSequenceIsStillPrefilling() {
        Scheduler s = new Scheduler(new SchedulerConfig(4, 8), new BlockManager(64, BS));
        Sequence decoder = new Sequence(0, new int[] {1, 2}, 5);
        Sequence older = new Sequence(1, new int[40], 1); // e.g. a preempted sequence being recomputed
        s.add(decoder);
        s.add(older);
        assertEquals(List.of("0:0+2", "1:0+6"), shape(step(s)));
        assertEquals(List.of("0:2+1", "1:6+7"), shape(step(s)));
        assertEquals(List.of("0:3+1", "1:13+7"), shape(step(s)));
    }

    @Test
    void respectsMaxRunning() {
        Scheduler s = new Scheduler(new SchedulerConfig(2, 64), new BlockManager(64, BS));
        for (int i = 0; i < 3; i++) {
            s.add(seq(5, i * 10));
        }
        assertEquals(2, step(s).slices().size());
        assertEquals(2, s.running());
        assertEquals(1, s.waiting());
    }

    @Test
    void prefixHitStartsAfterTheCachedBlocksButAlwaysComputesTheLastToken() {
        BlockManager bm = new BlockManager(64, BS);
        Scheduler s = new Scheduler(new SchedulerConfig(4, 64), bm);
        Sequence a = seq(12, 0);
        s.add(a);
        step(s);
        Sequence b = seq(12, 0); // identical, exactly 3 blocks
        Sequence c = seq(10, 0);
        s.add(b);
        s.add(c);
        ScheduledBatch batch = step(s);
        // b may reuse only 2 blocks: its last token must still be computed to get logits
        assertEquals(List.of("0:12+1", "1:8+4", "2:8+2"), shape(batch));
        assertEquals(8, b.cachedPromptTokens());
        assertEquals(8, c.cachedPromptTokens());
        assertEquals(a.blockTable().get(0), b.blockTable().get(0));
        assertEquals(3, bm.refCount(a.blockTable().get(0)));
        assertEquals(12 + 12 + 10, s.prefixQueriedTokens());
        assertEquals(16, s.prefixHitTokens());
    }

    @Test
    void preemptsTheNewestWhenBlocksRunOutAndRecomputesIt() {
        BlockManager bm = new BlockManager(6, BS); // 24 slots
        Scheduler s = new Scheduler(new SchedulerConfig(4, 64), bm);
        Sequence old = seq(8, 0);
        Sequence young = seq(8, 50);
        s.add(old);
        s.add(young);
        step(s); // 2 blocks each, both sampled a 9th token
        step(s); // both grow to 3 blocks (positions 8)
        assertEquals(6, bm.usedBlocks());
        for (int i = 0; i < 3; i++) {
            step(s); // positions 9..11 fit
        }
        ScheduledBatch b = s.schedule(); // position 12 needs a 4th block each: the young one goes
        assertEquals(List.of(young), b.preempted());
        assertEquals(List.of("0:12+1"), shape(b));
        assertEquals(SequenceStatus.WAITING, young.status());
        assertEquals(0, young.computed());
        assertTrue(young.blockTable().isEmpty());
        assertEquals(1, young.preemptions());
        assertEquals(1, s.preemptions());
        s.completed(b);
        old.append(7);

        s.finish(old);
        ScheduledBatch again = step(s);
        // young comes back from the prefix cache: its head blocks are still there, while its third block was
        // the first freed, so the old sequence's growth evicted it and it is recomputed
        assertEquals(1, again.slices().size());
        assertSame(young, again.slices().getFirst().sequence());
        assertEquals(8, again.slices().getFirst().start());
        assertEquals(13 - 8, again.slices().getFirst().count());
        assertEquals(0, young.cachedPromptTokens(), "cached prompt tokens are those of the first admission");
        s.finish(young);
        assertEquals(0, bm.usedBlocks());
    }

    @Test
    void finishingAtAnyStageFreesTheBlocks() {
        BlockManager bm = new BlockManager(64, BS);
        Scheduler s = new Scheduler(new SchedulerConfig(4, 10), bm);
        Sequence decoding = seq(3, 0);
        Sequence prefilling = seq(30, 100);
        Sequence queued = seq(5, 200);
        s.add(decoding);
        s.add(prefilling);
        step(s);
        step(s);
        s.add(queued);
        assertTrue(prefilling.computed() > 0 && prefilling.computed() < 30);
        s.finish(queued);
        s.finish(prefilling);
        s.finish(decoding);
        s.finish(decoding); // idempotent
        assertEquals(0, bm.usedBlocks());
        assertFalse(s.hasWork());
        assertTrue(decoding.isFinished() && prefilling.isFinished() && queued.isFinished());
        assertEquals(0, step(s).slices().size());
    }

    @Test
    void forkSharesBlocksOrFallsBackToRecompute() {
        BlockManager bm = new BlockManager(4, BS);
        LatentCache cache = new LatentCache(1, 4, BS, 2);
        Scheduler s = new Scheduler(new SchedulerConfig(4, 64), bm);
        Sequence p = seq(6, 0);
        s.add(p);
        ScheduledBatch b = s.schedule();
        s.completed(b);
        Sequence c1 = s.fork(p, 100, cache);
        assertEquals(SequenceStatus.RUNNING, c1.status());
        assertEquals(6, c1.computed());
        assertEquals(p.blockTable().get(0), c1.blockTable().get(0));
        assertEquals(3, bm.usedBlocks());
        bm.grow(new io.peregrine.engine.kv.BlockTable(), 4); // take the last free block
        Sequence c2 = s.fork(p, 101, cache);
        assertEquals(SequenceStatus.WAITING, c2.status());
        assertEquals(0, c2.computed());
        assertEquals(1, s.waiting());
    }
}
