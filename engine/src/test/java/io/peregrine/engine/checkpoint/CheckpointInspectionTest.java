package io.peregrine.engine.checkpoint;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.testing.TestData;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointInspectionTest {
    @TempDir
    Path dir;

    private static void assertContains(String text, String... parts) {
        for (String p : parts) {
            assertTrue(text.contains(p), () -> "report lacks '" + p + "':\n" + text);
        }
    }

    @Test
    void configOnlyDirectoryOfTheRealK25() throws IOException {
        try (InputStream in = getClass().getResourceAsStream("/io/peregrine/engine/kimi-k25/config.json")) {
            Files.copy(in, dir.resolve("config.json"));
        }
        CheckpointInspection r = CheckpointInspection.inspect(dir);
        assertTrue(r.isUsable());
        assertContains(r.render(),
                "61 layers (1 dense, 60 MoE), hidden 7168, vocab 163,840",
                "384 routed experts (top 8, sigmoid noaux_tc, scale 2.827) + 1 shared",
                "total   1.03 T (",
                "active  32.86 B (",
                "70,272 B per token; 17.2 GiB per 262,144-token sequence",
                "in 208,550 tensors",
                "MoonViT-3D: 27 layers, hidden 1152, 16 heads (head_dim 72)",
                "config only");
    }

    @Test
    void goldenCheckpointIsClean() {
        String text = CheckpointInspection.inspect(TestData.tinyCheckpoint()).render();
        assertContains(text, "Weights: 3 shards", "Validation: OK, all 222 tensors");
    }

    @Test
    void damagedCheckpointListsItsProblems() throws IOException {
        try (var s = Files.list(TestData.tinyCheckpoint())) {
            for (Path p : s.toList()) {
                Files.copy(p, dir.resolve(p.getFileName()));
            }
        }
        // Claim 4 layers: the 86 tensors of a 4th MoE layer (9 + router 2 + shared 3 + 8 experts x 9) are missing.
        Path cfg = dir.resolve("config.json");
        Files.writeString(cfg, Files.readString(cfg).replace("\"num_hidden_layers\": 3", "\"num_hidden_layers\": 4"));
        CheckpointInspection r = CheckpointInspection.inspect(dir);
        assertFalse(r.isUsable());
        String text = r.render();
        assertContains(text, "Validation: NOT usable; 86 problems, 0 unused tensors",
                "missing tensor language_model.model.layers.3.self_attn.kv_b_proj.weight BF16[128, 32]",
                "... and 46 more");
    }
}
