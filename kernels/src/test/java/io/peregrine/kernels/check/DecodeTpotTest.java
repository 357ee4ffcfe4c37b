package io.peregrine.kernels.check;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.backend.cpu.CpuBackend;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.config.TextConfig;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The GPU check's TPOT stage, run on the CPU backend over the golden tiny checkpoint: its host-side logic. */
class DecodeTpotTest {
    static final Path TINY = Path.of(System.getProperty("peregrine.testdata", "../testdata"))
            .resolve("golden").resolve("tiny-k25");

    @Test
    void weightBytesCountEveryTextWeightOnceAndTheRoutedExpertsATokenTouches() {
        try (Checkpoint ck = Checkpoint.open(TINY)) {
            TextConfig cfg = ck.config().text();
            long experts = 0;
            long embedding = 0;
            long text = 0;
            for (var e : ck.tensors().entrySet()) {
                long size = e.getValue().data().byteSize();
                if (e.getKey().startsWith("language_model.")) {
                    text += size;
                    experts += e.getKey().contains(".mlp.experts.") ? size : 0;
                    embedding += e.getKey().contains("embed_tokens") ? size : 0;
                }
            }
            long rest = text - experts - embedding;
            long row = embedding / cfg.vocabSize();
            double k = cfg.numExpertsPerTok();
            double e = cfg.nRoutedExperts();
            assertEquals(rest + row + (long) (experts * k / e), DecodeTpot.weightBytesPerStep(ck, cfg, 1), 1.0);
            double touched32 = 1 - Math.pow(1 - k / e, 32);
            assertEquals(rest + 32 * row + (long) (experts * touched32), DecodeTpot.weightBytesPerStep(ck, cfg, 32), 1.0);
        }
    }

    @Test
    void onTheCpuTheStageMeasuresEveryBatchEagerlyAndPrintsItsTable() {
        try (Checkpoint ck = Checkpoint.open(TINY); CpuBackend cpu = new CpuBackend(2)) {
            List<DecodeTpot.Row> rows = DecodeTpot.measure(ck, cpu, null, true, 1);
            assertEquals(List.of(1, 8, 32), rows.stream().map(DecodeTpot.Row::batch).toList());
            assertTrue(rows.stream().allMatch(r -> r.mode().equals("graphs (none on cpu)") && r.ms() > 0));
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            DecodeTpot.print(rows, 100, new PrintStream(bytes, true, StandardCharsets.UTF_8));
            String table = bytes.toString(StandardCharsets.UTF_8);
            assertEquals(2 + 3, table.lines().count(), table);
            assertTrue(table.lines().skip(2).allMatch(l -> l.startsWith("| graphs (none on cpu) |")), table);
        }
    }
}
