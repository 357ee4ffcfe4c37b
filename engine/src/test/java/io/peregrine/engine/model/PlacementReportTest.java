package io.peregrine.engine.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.config.TextConfig;
import io.peregrine.engine.testing.TestData;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The placement's start-up report and the routing histogram's file. */
class PlacementReportTest {

    @Test
    void everyExpertOnTheHost() {
        try (Checkpoint ck = Checkpoint.open(TestData.tinyCheckpoint())) {
            TextConfig c = ck.config().text();
            ExpertPlacement.StoredBytes bytes = ExpertPlacement.StoredBytes.of(ck, c);
            PlacementReport r = PlacementReport.of(ExpertPlacement.host(c), ck, null);
            assertEquals(List.of("layer 0: dense", "layers 1-2: 8 experts on the host"), r.lines());
            long experts = 0;
            double perToken = 0;
            for (int l = 0; l < c.numHiddenLayers(); l++) {
                for (long b : bytes.expert()[l]) {
                    experts += b;
                    perToken += (double) c.numExpertsPerTok() / c.nRoutedExperts() * b;
                }
            }
            assertEquals(experts, r.hostBytes());
            assertEquals(bytes.fixed(), r.primaryBytes());
            assertEquals(perToken, r.dramPerToken(), 1e-6);
            assertEquals(bytes.fixed() - bytes.embedding() + (double) bytes.embedding() / c.vocabSize(),
                    r.hbmPerToken(), 1e-6);
            String text = r.render(ExpertPlacement.host(c));
            assertTrue(text.startsWith("MoE placement cpu: "), text);
            assertTrue(text.contains("uniform routing"), text);
        }
    }

    /** A histogram moves the bytes per token to where the routed experts are; the lines name the mix. */
    @Test
    void aHistogramWeighsTheExpertsByTheirShare() {
        try (Checkpoint ck = Checkpoint.open(TestData.tinyCheckpoint())) {
            TextConfig c = ck.config().text();
            boolean[][] onHost = new boolean[c.numHiddenLayers()][];
            long[][] counts = new long[c.numHiddenLayers()][c.nRoutedExperts()];
            for (int l = 0; l < onHost.length; l++) {
                onHost[l] = new boolean[c.isMoeLayer(l) ? c.nRoutedExperts() : 0];
                for (int e = 1; e < onHost[l].length; e++) {
                    onHost[l][e] = true;
                }
                counts[l][0] = c.isMoeLayer(l) ? 10 : 0;
            }
            ExpertPlacement mix = ExpertPlacement.of(c, onHost);
            PlacementReport r = PlacementReport.of(mix, ck, new ExpertPlacement.RoutingHistogram(counts));
            assertEquals(List.of("layer 0: dense", "layers 1-2: 1 experts on the primary, 7 on the host"), r.lines());
            assertEquals(0, r.dramPerToken(), 0, "only expert 0 is ever routed, and it is on the primary");
            assertTrue(r.render(mix).contains("histogram routing"));
        }
    }

    /** From config.json alone (peregrine plan): the same bytes as the stored checkpoint's. */
    @Test
    void theConfigLayoutGivesTheStoredBytes() {
        try (Checkpoint ck = Checkpoint.open(TestData.tinyCheckpoint())) {
            TextConfig c = ck.config().text();
            ExpertPlacement.StoredBytes stored = ExpertPlacement.StoredBytes.of(ck, c);
            ExpertPlacement.StoredBytes layout = ExpertPlacement.StoredBytes.of(ck.config());
            assertEquals(stored.embedding(), layout.embedding());
            for (int l = 0; l < c.numHiddenLayers(); l++) {
                assertArrayEquals(stored.expert()[l], layout.expert()[l], "layer " + l);
            }
            assertEquals(stored.fixed(), layout.fixed());
        }
    }

    @Test
    void theHistogramFileRoundTripsAndAdds(@TempDir Path dir) throws Exception {
        ExpertPlacement.RoutingHistogram h = new ExpertPlacement.RoutingHistogram(
                new long[][] {{}, {3, 0, 5}, {1, 2, 3}});
        Path f = dir.resolve("routing.txt");
        h.write(f);
        ExpertPlacement.RoutingHistogram back = ExpertPlacement.RoutingHistogram.read(f);
        assertEquals(3, back.counts().length);
        for (int l = 0; l < 3; l++) {
            assertArrayEquals(h.counts()[l], back.counts()[l]);
        }
        assertArrayEquals(new long[] {6, 0, 10}, back.plus(h).counts()[1]);
        Files.writeString(f, "# x\n\n1 two 3\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ExpertPlacement.RoutingHistogram.read(f));
        assertTrue(e.getMessage().contains("line 3"), e.getMessage());
    }
}
