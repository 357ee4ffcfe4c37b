package io.peregrine.engine.checkpoint.demo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.peregrine.engine.checkpoint.Bytes;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.checkpoint.CheckpointException;
import io.peregrine.engine.checkpoint.CheckpointLayout;
import io.peregrine.engine.checkpoint.CheckpointValidator;
import io.peregrine.engine.checkpoint.SafetensorsWriter;
import io.peregrine.engine.checkpoint.TensorSpec;
import io.peregrine.engine.config.ConfigParser;
import io.peregrine.engine.config.ModelConfig;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * A deterministic random checkpoint in the exact Kimi-K2.5 layout (config.json with text/vision/quantization
 * configs, sharded safetensors and index, INT4 pack-quantized routed experts, bf16 elsewhere, fp32
 * {@code e_score_correction_bias}, vision tower and projector) with the REAL tokenizer files, so it tokenizes and
 * renders chats exactly like the real model. It lets the whole server run without the 554 GiB download.
 */
public final class DemoCheckpoint {
    public static final String ENV_DIR = "PEREGRINE_DEMO_DIR";
    public static final long DEFAULT_SEED = 20250101L;
    /** Written last: its presence with the right preset and seed marks a complete demo checkpoint. */
    public static final String MARKER = "peregrine-demo.json";
    /** Bumped whenever the generator's output changes, so old caches are rewritten. */
    static final int FORMAT = 1;
    /** Copied byte for byte from the engine's resources (LICENSE is the modified-MIT notice that covers them). */
    public static final List<String> TOKENIZER_FILES = List.of("tiktoken.model", "tokenizer_config.json",
            "chat_template.jinja", "generation_config.json", "preprocessor_config.json", "LICENSE");

    private static final System.Logger LOG = System.getLogger(DemoCheckpoint.class.getName());
    private static final ObjectMapper JSON = new ObjectMapper();

    private DemoCheckpoint() {}

    /**
     * Progress of writing, reported after each tensor.
     *
     * @param shard 1-based shard being written
     */
    public record WriteProgress(int tensorsDone, int tensors, int shard, int shards, long bytesDone, long bytesTotal,
                                long elapsedNanos) {
        public double bytesPerSecond() {
            return elapsedNanos <= 0 ? 0 : bytesDone * 1e9 / elapsedNanos;
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "shard %d/%d, tensor %d/%d: %s of %s (%.0f%%), %s/s", shard, shards,
                    tensorsDone, tensors, Bytes.format(bytesDone), Bytes.format(bytesTotal),
                    bytesTotal == 0 ? 100.0 : 100.0 * bytesDone / bytesTotal, Bytes.format((long) bytesPerSecond()));
        }
    }

    /** {@code $PEREGRINE_DEMO_DIR}, else {@code ${user.home}/.cache/peregrine/demo}. */
    public static Path defaultDir() {
        String env = System.getenv(ENV_DIR);
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        return Path.of(System.getProperty("user.home"), ".cache", "peregrine", "demo");
    }

    /** {@link #ensure(Path, String, long, Consumer)} with the default seed, logging progress. */
    public static Path ensure(Path dir, String preset) {
        return ensure(dir, preset, DEFAULT_SEED, p -> {});
    }

    /**
     * Makes {@code dir} hold the demo checkpoint for {@code preset} and {@code seed}: returns at once when it
     * already does; otherwise writes it into a temporary sibling directory and renames that into place, so a
     * reader never sees a half-written checkpoint and a crash leaves no {@code dir} behind. An existing
     * {@code dir} is replaced only if it is an (older, other or incomplete) demo checkpoint, or empty.
     *
     * @return {@code dir}
     * @throws CheckpointException when {@code dir} exists and is something else, or writing fails
     */
    public static Path ensure(Path dir, String preset, long seed, Consumer<WriteProgress> progress) {
        DemoPreset p = DemoPreset.byName(preset);
        dir = dir.toAbsolutePath().normalize();
        if (isComplete(dir, p, seed)) {
            return dir;
        }
        if (Files.exists(dir) && !isEmptyDir(dir) && !Files.exists(dir.resolve(MARKER))) {
            throw new CheckpointException(dir + ": exists and is not a Peregrine demo checkpoint (no " + MARKER
                    + "); refusing to overwrite it");
        }
        try {
            Files.createDirectories(dir.getParent());
            removeAbandonedWrites(dir);
            Path tmp = Files.createTempDirectory(dir.getParent(), "." + dir.getFileName() + ".writing-");
            if (Files.getFileStore(tmp).supportsFileAttributeView("posix")) {
                // createTempDirectory makes it owner-only; the checkpoint is an ordinary shareable directory.
                Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
            }
            try {
                write(tmp, p, seed, progress);
                if (Files.exists(dir)) {
                    // An outdated demo (or an empty directory): move it aside first so the rename below is atomic.
                    Path old = Files.createTempDirectory(dir.getParent(), "." + dir.getFileName() + ".old-");
                    Files.delete(old);
                    Files.move(dir, old, StandardCopyOption.ATOMIC_MOVE);
                    deleteTree(old);
                }
                moveIntoPlace(tmp, dir);
            } finally {
                deleteTree(tmp);
            }
        } catch (IOException e) {
            throw new CheckpointException(dir + ": cannot write the demo checkpoint: " + e.getMessage(), e);
        }
        if (!isComplete(dir, p, seed)) {
            throw new CheckpointException(dir + ": the demo checkpoint is incomplete after writing it");
        }
        return dir;
    }

    /** A write is abandoned when nothing in its temporary directory changed for this long (a kill skips cleanup). */
    static final long ABANDONED_AFTER_MILLIS = 10 * 60 * 1000;

    private static void removeAbandonedWrites(Path dir) throws IOException {
        String prefix = "." + dir.getFileName() + ".writing-";
        try (Stream<Path> s = Files.list(dir.getParent())) {
            for (Path p : s.filter(x -> x.getFileName().toString().startsWith(prefix)).toList()) {
                if (System.currentTimeMillis() - newestChange(p) > ABANDONED_AFTER_MILLIS) {
                    LOG.log(System.Logger.Level.INFO, "{0}: removing an abandoned demo write", p);
                    deleteTree(p);
                }
            }
        }
    }

    private static long newestChange(Path tree) throws IOException {
        try (Stream<Path> s = Files.walk(tree)) {
            long newest = 0;
            for (Path p : s.toList()) {
                newest = Math.max(newest, Files.getLastModifiedTime(p).toMillis());
            }
            return newest;
        }
    }

    private static void moveIntoPlace(Path tmp, Path dir) throws IOException {
        try {
            Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
        } catch (FileAlreadyExistsException | DirectoryNotEmptyException e) {
            // Another process finished first; its checkpoint is checked by the caller and ours is discarded.
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("cannot rename " + tmp + " to " + dir + " atomically", e);
        }
    }

    /** Whether {@code dir} holds a complete demo checkpoint of {@code preset} and {@code seed}, valid for its config. */
    public static boolean isComplete(Path dir, DemoPreset preset, long seed) {
        Path marker = dir.resolve(MARKER);
        if (!Files.isRegularFile(marker)) {
            return false;
        }
        try {
            JsonNode m = JSON.readTree(marker.toFile());
            if (!preset.name().equals(m.path("preset").asText()) || m.path("seed").asLong() != seed
                    || m.path("format").asInt() != FORMAT) {
                return false;
            }
            for (String f : TOKENIZER_FILES) {
                if (!Files.isRegularFile(dir.resolve(f))) {
                    return false;
                }
            }
            try (Checkpoint ck = Checkpoint.open(dir)) {
                return CheckpointValidator.validate(ck).problems().isEmpty();
            }
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.INFO, "{0}: not a complete demo checkpoint ({1}); it will be rewritten", dir,
                    e.getMessage());
            return false;
        }
    }

    /**
     * Writes the checkpoint into {@code dir} (created if needed; it should be empty). Streams every tensor in
     * chunks: heap use does not grow with the checkpoint.
     */
    public static void write(Path dir, DemoPreset preset, long seed, Consumer<WriteProgress> progress) throws IOException {
        long start = System.nanoTime();
        Files.createDirectories(dir);
        ObjectNode configJson = DemoConfig.of(preset);
        Files.writeString(dir.resolve("config.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(configJson));
        for (String f : TOKENIZER_FILES) {
            copyResource(f, dir.resolve(f));
        }
        ModelConfig config = ConfigParser.read(dir);
        List<TensorSpec> layout = new ArrayList<>(CheckpointLayout.of(config));
        layout.sort(Comparator.comparing(TensorSpec::name));
        Map<String, TensorSpec> byName = new HashMap<>();
        layout.forEach(t -> byName.put(t.name(), t));
        long total = layout.stream().mapToLong(TensorSpec::byteSize).sum();

        // Split in sorted-name order at even byte boundaries, as the real checkpoint is (a layer may span shards).
        int shards = preset.shards();
        List<List<TensorSpec>> perShard = new ArrayList<>();
        for (int i = 0; i < shards; i++) {
            perShard.add(new ArrayList<>());
        }
        long before = 0;
        for (TensorSpec t : layout) {
            int s = (int) Math.min(shards - 1, before * shards / Math.max(1, total));
            perShard.get(s).add(t);
            before += t.byteSize();
        }
        ObjectNode index = JSON.createObjectNode();
        index.putObject("metadata").put("total_size", total);
        ObjectNode weightMap = index.putObject("weight_map");
        long done = 0;
        int tensorsDone = 0;
        for (int s = 0; s < shards; s++) {
            String file = String.format(Locale.ROOT, "model-%05d-of-%06d.safetensors", s + 1, shards);
            try (SafetensorsWriter w = SafetensorsWriter.create(dir.resolve(file), perShard.get(s), Map.of("format", "pt"))) {
                for (TensorSpec t : perShard.get(s)) {
                    DemoWeights.generate(t, seed, preset.hiddenSize(), byName, w::write);
                    done += t.byteSize();
                    tensorsDone++;
                    weightMap.put(t.name(), file);
                    WriteProgress p = new WriteProgress(tensorsDone, layout.size(), s + 1, shards, done, total,
                            System.nanoTime() - start);
                    progress.accept(p);
                }
            }
            LOG.log(System.Logger.Level.INFO, "{0}: wrote {1}", dir.resolve(file),
                    new WriteProgress(tensorsDone, layout.size(), s + 1, shards, done, total, System.nanoTime() - start));
        }
        // Sorted like the real index, whatever order the shards were filled in.
        ObjectNode sorted = JSON.createObjectNode();
        List<String> names = new ArrayList<>();
        weightMap.fieldNames().forEachRemaining(names::add);
        names.stream().sorted().forEach(n -> sorted.set(n, weightMap.get(n)));
        index.set("weight_map", sorted);
        Files.writeString(dir.resolve("model.safetensors.index.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(index));
        ObjectNode marker = JSON.createObjectNode();
        marker.put("preset", preset.name());
        marker.put("seed", seed);
        marker.put("format", FORMAT);
        marker.put("note", "Random weights written by `peregrine init-demo`; not a trained model.");
        Files.writeString(dir.resolve(MARKER), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(marker));
    }

    private static void copyResource(String name, Path to) throws IOException {
        try (InputStream in = DemoCheckpoint.class.getResourceAsStream(DemoConfig.RESOURCES + name)) {
            if (in == null) {
                throw new IllegalStateException("engine resource " + DemoConfig.RESOURCES + name + " is missing from the class path");
            }
            Files.copy(in, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static boolean isEmptyDir(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.findAny().isEmpty();
        } catch (IOException e) {
            return false;
        }
    }

    static void deleteTree(Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(root + ": cannot delete: " + e.getMessage(), e);
        }
    }
}
