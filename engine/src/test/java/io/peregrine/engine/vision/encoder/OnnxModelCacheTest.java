package io.peregrine.engine.vision.encoder;

import io.peregrine.engine.config.VisionConfig;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.testing.TestData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OnnxModelCacheTest {
    private static final MoonVitGraph.Attention F = MoonVitGraph.Attention.FUSED;

    @Test
    void builtOnceThenReusedAndKeyedByWeightsAndConfig(@TempDir Path tmp) throws IOException {
        Path cache = tmp.resolve("cache");
        Path copy = tmp.resolve("copy");
        Files.createDirectories(copy);
        try (Stream<Path> s = Files.list(TestData.tinyCheckpoint())) {
            for (Path p : s.toList()) {
                Files.copy(p, copy.resolve(p.getFileName()));
            }
        }
        Path first;
        String keyOriginal;
        try (Checkpoint ckpt = Checkpoint.open(TestData.tinyCheckpoint())) {
            VisionConfig cfg = TowerLimits.config(ckpt);
            keyOriginal = OnnxModelCache.key(ckpt, cfg, F, false);
            first = OnnxModelCache.getOrBuild(ckpt, cfg, cache, F, false);
            long built = Files.getLastModifiedTime(first).toMillis();
            Path again = OnnxModelCache.getOrBuild(ckpt, cfg, cache, F, false);
            assertEquals(first, again);
            assertEquals(built, Files.getLastModifiedTime(again).toMillis());
            assertNotEquals(first, OnnxModelCache.getOrBuild(ckpt, cfg, cache, F, true), "debug outputs are a different model");
        }
        try (Checkpoint same = Checkpoint.open(copy)) {
            assertEquals(keyOriginal, OnnxModelCache.key(same, TowerLimits.config(same), F, false), "key must not depend on the path");
        }
        String cfgText = Files.readString(copy.resolve("config.json"));
        Files.writeString(copy.resolve("config.json"), cfgText.replace("\"projector_ln_eps\": 1e-05", "\"projector_ln_eps\": 2e-05"));
        try (Checkpoint changed = Checkpoint.open(copy)) {
            assertNotEquals(keyOriginal, OnnxModelCache.key(changed, TowerLimits.config(changed), F, false));
        }
        try (Stream<Path> s = Files.list(cache)) {
            assertEquals(2, s.filter(p -> p.getFileName().toString().startsWith("moonvit-")).count(), "no temp folders left");
        }
    }
}
