package io.peregrine.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.backend.cpu.CpuBackend;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.checkpoint.Tensor;
import io.peregrine.engine.testing.TestData;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class WeightProgressTest {

    @Test
    void reportsEveryLayerThenTheHeadAndEndsAtEveryTextByte() {
        List<WeightProgress> seen = new ArrayList<>();
        try (Checkpoint ck = Checkpoint.open(TestData.tinyCheckpoint()); CpuBackend backend = new CpuBackend(1)) {
            KimiTextModel model = KimiTextModel.load(ck, backend, seen::add);
            int layers = model.config().numHiddenLayers();
            // the independent count: every stored tensor except the vision side (tower, projector)
            long text = 0;
            for (var e : ck.tensors().entrySet()) {
                if (e.getKey().startsWith("language_model.")) {
                    text += e.getValue().data().byteSize();
                }
            }
            assertEquals(layers + 1, seen.size(), "one report per layer and one for the head");
            for (int i = 0; i < layers; i++) {
                assertEquals(i + 1, seen.get(i).layersDone());
                assertEquals(layers, seen.get(i).layers());
            }
            long previous = 0;
            for (WeightProgress p : seen) {
                assertEquals(text, p.bytesTotal());
                assertTrue(p.bytesDone() > previous, "bytes grow with every report: " + seen);
                previous = p.bytesDone();
            }
            WeightProgress last = seen.getLast();
            assertEquals(text, last.bytesDone());
            assertEquals(1.0, last.fraction());
            assertTrue(last.toString().startsWith("layer " + layers + "/" + layers + ": "), last.toString());
        }
    }

    @Test
    void countsNothingThatIsNotBound() {
        try (Checkpoint ck = Checkpoint.open(TestData.tinyCheckpoint())) {
            long vision = 0;
            long all = 0;
            for (Tensor t : ck.tensors().values()) {
                all += t.data().byteSize();
                if (!t.name().startsWith("language_model.")) {
                    vision += t.data().byteSize();
                }
            }
            assertTrue(vision > 0, "the tiny checkpoint has a vision tower, so this test can tell the difference");
            TextWeightBytes sizes = TextWeightBytes.of(ck, "language_model.", ck.config().text().numHiddenLayers());
            assertEquals(all - vision, sizes.total());
        }
    }
}
