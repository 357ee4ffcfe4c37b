package io.peregrine.engine.vision.encoder;

import io.peregrine.engine.config.VisionConfig;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.checkpoint.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/**
 * Built MoonViT ONNX models on disk, one folder per key = SHA-256 of the graph version and options, the vision_config and
 * every {@code vision_tower.*} / {@code mm_projector.*} tensor (name, dtype, shape, bytes). Building writes into
 * a temporary folder and renames it into place, so concurrent builders and crashes never leave a half model.
 */
public final class OnnxModelCache {
    static final String MODEL_FILE = "model.onnx";
    static final String WEIGHTS_FILE = "model.weights";

    private OnnxModelCache() {}

    /** @return the model file, built now unless a model with the same key is already cached */
    public static Path getOrBuild(Checkpoint ckpt, VisionConfig cfg, Path cacheDir, MoonVitGraph.Attention attention,
                                  boolean intermediates) {
        String key = key(ckpt, cfg, attention, intermediates);
        Path dir = cacheDir.resolve("moonvit-" + key.substring(0, 32));
        Path model = dir.resolve(MODEL_FILE);
        if (Files.isRegularFile(model)) {
            return model;
        }
        try {
            Files.createDirectories(cacheDir);
            Path tmp = Files.createTempDirectory(cacheDir, ".building-");
            try {
                MoonVitGraph.write(ckpt, cfg, attention, intermediates, tmp.resolve(MODEL_FILE), WEIGHTS_FILE);
                Files.writeString(tmp.resolve("KEY"), key + "\n" + MoonVitGraph.VERSION + "\n" + ckpt.dir() + "\n");
                try {
                    Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
                } catch (FileAlreadyExistsException | AtomicMoveNotSupportedException e) {
                    if (!Files.isRegularFile(model)) {
                        throw e;
                    }
                } catch (IOException e) {
                    // Another process won the rename (non-empty target): its model has the same key.
                    if (!Files.isRegularFile(model)) {
                        throw e;
                    }
                }
            } finally {
                deleteTree(tmp);
            }
            return model;
        } catch (IOException e) {
            throw new UncheckedIOException("building the vision ONNX model in " + cacheDir + ": " + e.getMessage(), e);
        }
    }

    static String key(Checkpoint ckpt, VisionConfig cfg, MoonVitGraph.Attention attention, boolean intermediates) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update((MoonVitGraph.VERSION + "\n" + cfg + "\nattention=" + attention + "\nintermediates=" + intermediates + "\n")
                    .getBytes(StandardCharsets.UTF_8));
            List<Tensor> tensors = ckpt.tensors().values().stream()
                    .filter(t -> t.name().startsWith("vision_tower.") || t.name().startsWith("mm_projector."))
                    .sorted(Comparator.comparing(Tensor::name))
                    .toList();
            for (Tensor t : tensors) {
                md.update((t.toString() + "\n").getBytes(StandardCharsets.UTF_8));
                md.update(t.data().asByteBuffer());
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required by every JDK", e);
        }
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(q);
            }
        }
    }
}
