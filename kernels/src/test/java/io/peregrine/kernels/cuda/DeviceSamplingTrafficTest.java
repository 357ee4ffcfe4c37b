package io.peregrine.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.backend.TokenCounts;
import io.peregrine.engine.sample.SamplingBatch;
import io.peregrine.engine.sample.SamplingRule;
import org.junit.jupiter.api.Test;

/**
 * What a CUDA sampling step moves, on a recording fake device: one upload of the step's sampling rows and of the
 * constrained rows' bitmasks (never the unconstrained rows'), one {@code pg_sample_rows} launch, one download of the
 * ids and logprobs — the K2.5 vocabulary's 163,840 logits per row never leave the device — and no allocation once
 * the step's size has been seen.
 */
class DeviceSamplingTrafficTest {
    static final int VOCAB = 163_840;
    static final int WORDS = (VOCAB + 63) / 64;
    static final int ROWS = 8;
    static final SamplingRule GREEDY = new SamplingRule(0, 1, 0, 0, 0, 0, 1);
    static final SamplingRule RANDOM = new SamplingRule(0.8, 0.95, 40, 0.02, 0.5, 0.3, 1.1);

    private final FakeDriver driver = new FakeDriver();
    private final CudaContext ctx = driver.open("fake");
    private final CudaBackend backend = new CudaBackend(ctx, CudaBackend.Options.FP32, "fake");
    private final DeviceTensor logits = new DeviceTensor(ctx.alloc(4L * ROWS * VOCAB), ROWS, VOCAB, VOCAB);
    private final TokenCounts[] counts = new TokenCounts[ROWS];
    private final long[] mask = SamplingBatch.mask(VOCAB);
    private final SamplingBatch batch = new SamplingBatch();

    DeviceSamplingTrafficTest() {
        for (int r = 0; r < ROWS; r++) {
            counts[r] = backend.tokenCounts(new int[] {1, 2, 3 + r}, 3);
        }
        mask[0] = -1L;
    }

    /** Rows 2 and 5 constrained, odd rows random, row 3 wants {@code top} logprobs. */
    private void step(int top) {
        batch.clear();
        for (int r = 0; r < ROWS; r++) {
            batch.add(r, r % 2 == 0 ? GREEDY : RANDOM, counts[r], 0.25, r == 2 || r == 5 ? mask : null,
                    r == 3 ? top : -1);
        }
        backend.sample(logits, batch);
    }

    @Test
    void aStepUploadsItsRowsAndConstrainedMasksAndDownloadsOnlyIdsAndLogprobs() {
        step(5);  // first step: prompts placed in the counts pool, buffers sized
        assertEquals(ROWS, driver.launches(ctx, KernelName.COUNTS_SEEN));
        driver.reset();

        step(5);
        assertEquals(1, driver.calls("launch").size(), "one launch per sampling step");
        assertEquals(1, driver.launches(ctx, KernelName.SAMPLE_ROWS));
        assertEquals(2, driver.calls("copyToDevice").size(), "the rows, then the masks");
        assertEquals(8L * ROWS * DeviceSampler.PARAMS + 8L * 2 * WORDS, driver.bytes("copyToDevice"));
        assertEquals(1, driver.calls("copyToHost").size());
        assertEquals(4L * ROWS * (2 + DeviceSampler.TOP_WORDS), driver.bytes("copyToHost"),
                "ids, logprobs and the top-logprob block one row asked for");
        assertTrue(driver.calls("alloc").isEmpty(), "a step of a seen size allocates nothing");
        assertTrue(driver.calls("free").isEmpty());
        driver.reset();

        step(-1);
        assertEquals(4L * ROWS * 2, driver.bytes("copyToHost"), "no logprobs block when no row asked for alternatives");
        assertTrue(driver.bytes("copyToHost") < 4L * VOCAB / 1000, "a step downloads no logits");
    }

    @Test
    void unconstrainedGreedyStepsUploadOnlyTheirRows() {
        batch.clear();
        for (int r = 0; r < ROWS; r++) {
            batch.add(r, GREEDY, null, 0, null, -1);
        }
        backend.sample(logits, batch);
        driver.reset();
        backend.sample(logits, batch);
        assertEquals(8L * ROWS * DeviceSampler.PARAMS, driver.bytes("copyToDevice"));
        assertEquals(4L * ROWS * 2, driver.bytes("copyToHost"));
        assertEquals(1, driver.calls("launch").size());
    }

    @Test
    void aForkCopiesItsParentsCountsOnTheDevice() {
        step(-1);
        driver.reset();
        TokenCounts child = counts[1].copy();
        assertEquals(1, driver.launches(ctx, KernelName.COPY_WORDS));
        assertEquals(0, driver.bytes("copyToDevice") + driver.bytes("copyToHost"));
        assertTrue(child instanceof DeviceTokenCounts d && d.placed());
    }
}
