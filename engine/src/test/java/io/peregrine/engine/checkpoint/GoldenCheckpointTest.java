package io.peregrine.engine.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.engine.testing.TestData;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The golden tiny-k25 checkpoint read through our reader equals the golden manifest and dequantized values exactly. */
class GoldenCheckpointTest {
    private static final String DEQUANT = "tiny-k25.dequantized_int4_experts.safetensors";

    @Test
    void everyTensorMatchesTheManifest() throws IOException {
        JsonNode manifest = new ObjectMapper().readTree(TestData.golden("tiny-k25.manifest.json").toFile());
        Map<String, DType> dtypes = Map.of("bfloat16", DType.BF16, "float32", DType.F32, "int32", DType.I32);
        try (Checkpoint ck = Checkpoint.open(TestData.tinyCheckpoint())) {
            assertEquals(manifest.get("n_tensors").asInt(), ck.tensors().size());
            long total = 0;
            for (JsonNode m : manifest.get("tensors")) {
                Tensor t = ck.tensor(m.get("name").asText());
                assertEquals(dtypes.get(m.get("dtype").asText()), t.dtype(), t.name());
                long[] shape = new long[m.get("shape").size()];
                for (int i = 0; i < shape.length; i++) {
                    shape[i] = m.get("shape").get(i).asLong();
                }
                assertArrayEquals(shape, t.shape(), t.name());
                assertEquals(Tensor.numel(shape) * t.dtype().bytes(), t.data().byteSize(), t.name());
                total += t.data().byteSize();
            }
            JsonNode index = new ObjectMapper().readTree(TestData.tinyCheckpoint().resolve("model.safetensors.index.json").toFile());
            assertEquals(index.get("metadata").get("total_size").asLong(), total, "index total_size");
        }
    }

    @Test
    void int4DequantizationEqualsTheGoldenValuesExactly() {
        try (Checkpoint ck = Checkpoint.open(TestData.tinyCheckpoint()); Arena arena = Arena.ofConfined()) {
            SafetensorsFile golden = SafetensorsFile.open(TestData.golden(DEQUANT), arena);
            List<String> modules = new ArrayList<>();
            for (String name : ck.tensors().keySet()) {
                if (name.endsWith(".weight_packed")) {
                    modules.add(name.substring(0, name.length() - ".weight_packed".length()));
                }
            }
            assertEquals(48, modules.size());
            assertEquals(48, golden.tensors().size());
            for (String module : modules) {
                Int4Group32 w = Int4Group32.of(ck, module);
                Tensor want = golden.tensor(module + ".weight");
                assertArrayEquals(new long[] {w.rows(), w.cols()}, want.shape(), module);
                float[] got = w.dequantize();
                float[] expected = want.toFloatArray();
                for (int i = 0; i < got.length; i++) {
                    if (Float.floatToRawIntBits(got[i]) != Float.floatToRawIntBits(expected[i])) {
                        throw new AssertionError(module + "[" + i / w.cols() + ", " + i % w.cols() + "]: " + got[i]
                                + " != golden " + expected[i]);
                    }
                }
                // Packing the unpacked values gives back the stored words (compressed-tensors' layout exactly).
                int[] q = new int[w.cols()];
                for (int r = 0; r < w.rows(); r++) {
                    for (int c = 0; c < w.cols(); c++) {
                        q[c] = w.q(r, c);
                    }
                    for (int j = 0; j < w.cols() / Int4Group32.PER_WORD; j++) {
                        assertEquals(w.packed().data().getAtIndex(Tensor.I32, (long) r * (w.cols() / 8) + j),
                                Int4Group32.packWord(q, j * 8), module);
                    }
                }
            }
        }
    }

    @Test
    void goldenCheckpointValidatesCleanly() {
        try (Checkpoint ck = Checkpoint.openValidated(TestData.tinyCheckpoint(), p -> {})) {
            CheckpointValidator.Report r = CheckpointValidator.validate(ck);
            assertEquals(List.of(), r.problems());
            assertEquals(222, r.expected().size());
        }
    }

    @Test
    void progressReportsEveryShardWithRunningTotals() {
        List<Checkpoint.LoadProgress> seen = new ArrayList<>();
        try (Checkpoint ck = Checkpoint.open(TestData.tinyCheckpoint(), seen::add)) {
            assertEquals(3, seen.size());
            long sum = ck.files().stream().mapToLong(SafetensorsFile::byteSize).sum();
            for (int i = 0; i < 3; i++) {
                assertEquals(i + 1, seen.get(i).shard());
                assertEquals(3, seen.get(i).shards());
                assertEquals(sum, seen.get(i).bytesTotal());
            }
            assertEquals(sum, seen.get(2).bytesDone());
            assertTrue(seen.get(0).bytesDone() < seen.get(1).bytesDone());
            assertTrue(seen.get(2).toString().contains("shard 3/3 model-00003-of-000003.safetensors"), seen.get(2).toString());
        }
    }
}
