package io.peregrine.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.backend.cpu.CpuBackend;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.testing.TestData;
import org.junit.jupiter.api.Test;

/** The long-prefill choice of {@link ExpertStreaming}: the decision against its cost lines, and its calibration. */
class ExpertStreamingTest {

    @Test
    void streamsFromTheRowCountWhereTheStreamedCostFallsBelowTheHostCost() {
        // host: 2 ms + 100 us/row (+ 10 us/row copies); streamed: 10 ms + 5 us/row -> 8 ms / 105 us = 76.2 rows
        ExpertStreaming m = new ExpertStreaming(2e-3, 100e-6, 10e-6, 10e-3, 5e-6, 1);
        assertEquals(77, m.threshold());
        assertFalse(m.stream(76));
        assertTrue(m.stream(77));
        assertTrue(m.stream(4096));
        for (int rows = 1; rows < 200; rows++) {
            assertEquals(m.streamSeconds(rows) < m.hostSeconds(rows), m.stream(rows), "rows " + rows);
            assertEquals(rows >= m.threshold(), m.stream(rows), "rows " + rows);
        }
    }

    @Test
    void aFasterHostPerRowNeverStreamsAndNoRowsNeverStream() {
        ExpertStreaming slowerPrimary = new ExpertStreaming(1e-3, 10e-6, 0, 5e-3, 20e-6, 1);
        assertEquals(Integer.MAX_VALUE, slowerPrimary.threshold());
        assertFalse(slowerPrimary.stream(1_000_000));
        assertFalse(ExpertStreaming.NEVER.stream(1_000_000));
        assertEquals(Integer.MAX_VALUE, ExpertStreaming.NEVER.threshold());
        ExpertStreaming free = new ExpertStreaming(1, 0, 0, 0, 0, 1);
        assertFalse(free.stream(0));
        assertTrue(free.stream(1));
        assertEquals(1, free.threshold());
    }

    /** Below minRows nothing streams, however cheap the measurement says streaming is. */
    @Test
    void decodeSizedRowsStayOnTheHost() {
        ExpertStreaming free = new ExpertStreaming(1, 0, 0, 0, 0, ExpertStreaming.MIN_ROWS);
        assertFalse(free.stream(ExpertStreaming.MIN_ROWS - 1));
        assertTrue(free.stream(ExpertStreaming.MIN_ROWS));
        assertEquals(ExpertStreaming.MIN_ROWS, free.threshold());
        ExpertStreaming m = new ExpertStreaming(2e-3, 100e-6, 10e-6, 10e-3, 5e-6, 100);
        assertEquals(100, m.threshold());
        assertFalse(m.stream(99));
    }

    /**
     * Two CPU backends: every term measured, non-negative and finite (or, when the timings stay inconsistent, no
     * streaming at all), the streamed weights released (a second release would throw).
     */
    @Test
    void calibratesOnTwoCpuBackends() {
        try (Checkpoint ck = Checkpoint.open(TestData.tinyCheckpoint());
             CpuBackend primary = new CpuBackend(1); CpuBackend host = new CpuBackend(1)) {
            ExpertStreaming m = ExpertStreaming.calibrate(ck, primary, host);
            if (m == ExpertStreaming.NEVER) {
                // timings inconsistent on a busy machine five passes running: refusing to stream is the answer then
                assertTrue(m.toString().startsWith("never streams"), m.toString());
                return;
            }
            for (double term : new double[] {m.hostFixed(), m.hostPerRow(), m.copyPerRow(), m.streamFixed(),
                    m.primaryPerRow()}) {
                assertTrue(term >= 0 && Double.isFinite(term), m.toString());
            }
            assertTrue(m.streamFixed() > 0, m.toString());
            assertEquals(ExpertStreaming.MIN_ROWS, m.minRows());
            assertFalse(m.stream(ExpertStreaming.MIN_ROWS - 1), "decode steps never stream");
            assertTrue(m.toString().contains("stream"), m.toString());
        }
    }
}
