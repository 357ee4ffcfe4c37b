package io.peregrine.engine.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import io.peregrine.engine.config.ConfigParser;
import io.peregrine.engine.config.ModelConfig;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * A checkpoint directory: config.json plus one {@code model.safetensors} or shards listed in
 * {@code model.safetensors.index.json}. All shards are mapped into one shared arena that lives until
 * {@link #close()}; tensors are zero-copy views.
 */
public final class Checkpoint implements AutoCloseable {
    private final Path dir;
    private final ModelConfig config;
    private final Arena arena;
    private final List<SafetensorsFile> files;
    private final Map<String, Tensor> tensors;

    private Checkpoint(Path dir, ModelConfig config, Arena arena, List<SafetensorsFile> files, Map<String, Tensor> tensors) {
        this.dir = dir;
        this.config = config;
        this.arena = arena;
        this.files = files;
        this.tensors = tensors;
    }

    private static final System.Logger LOG = System.getLogger(Checkpoint.class.getName());
    /** Checkpoints at least this big log each shard at INFO (smaller ones at DEBUG: they open in a blink). */
    static final long LOG_INFO_BYTES = 1L << 30;

    /**
     * Progress of mapping shards, reported after each one.
     *
     * @param shard       1-based index of the shard just mapped
     * @param bytes       that shard's size
     * @param bytesDone   bytes of all shards mapped so far
     * @param bytesTotal  bytes of all shards
     * @param elapsedNanos since {@link #open} started
     */
    public record LoadProgress(int shard, int shards, Path file, long bytes, long bytesDone, long bytesTotal,
                               long elapsedNanos) {

        /** The shape of this record before byte totals were added; totals default to this shard alone. */
        public LoadProgress(int shard, int shards, Path file, long bytes) {
            this(shard, shards, file, bytes, bytes, bytes, 0);
        }

        public double bytesPerSecond() {
            return elapsedNanos <= 0 ? 0 : bytesDone * 1e9 / elapsedNanos;
        }

        @Override
        public String toString() {
            return String.format(java.util.Locale.ROOT, "shard %d/%d %s: %s of %s (%.0f%%), %s/s", shard, shards, file.getFileName(),
                    Bytes.format(bytesDone), Bytes.format(bytesTotal),
                    bytesTotal == 0 ? 100.0 : 100.0 * bytesDone / bytesTotal, Bytes.format((long) bytesPerSecond()));
        }
    }

    public static Checkpoint open(Path dir) {
        return open(dir, p -> {});
    }

    /**
     * Maps every shard and checks the index; {@code progress} hears about each shard, which is also logged
     * (at INFO for checkpoints of a GiB or more).
     * Tensors are not checked against the config here: see {@link #openValidated} and {@link CheckpointValidator}.
     */
    public static Checkpoint open(Path dir, Consumer<LoadProgress> progress) {
        long start = System.nanoTime();
        ModelConfig config = ConfigParser.read(dir);
        List<Path> shards = shardFiles(dir);
        long total = 0;
        for (Path p : shards) {
            try {
                total += Files.size(p);
            } catch (IOException e) {
                throw new CheckpointException(p + ": cannot read size: " + e.getMessage(), e);
            }
        }
        Arena arena = Arena.ofShared();
        try {
            List<SafetensorsFile> files = new ArrayList<>();
            Map<String, Tensor> all = new LinkedHashMap<>();
            long done = 0;
            for (int i = 0; i < shards.size(); i++) {
                SafetensorsFile f = SafetensorsFile.open(shards.get(i), arena);
                files.add(f);
                for (Tensor t : f.tensors().values()) {
                    if (all.put(t.name(), t) != null) {
                        throw new CheckpointException(f.path() + ": tensor " + t.name() + " also appears in another shard");
                    }
                }
                done += f.byteSize();
                LoadProgress p = new LoadProgress(i + 1, shards.size(), f.path(), f.byteSize(), done, total,
                        System.nanoTime() - start);
                LOG.log(total >= LOG_INFO_BYTES ? System.Logger.Level.INFO : System.Logger.Level.DEBUG,
                        "{0}: mapped {1}", dir, p);
                progress.accept(p);
            }
            checkIndex(dir, all);
            return new Checkpoint(dir, config, arena, List.copyOf(files), Collections.unmodifiableMap(all));
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** {@link #open}, then {@link CheckpointValidator}: throws listing every missing or mis-shaped tensor. */
    public static Checkpoint openValidated(Path dir, Consumer<LoadProgress> progress) {
        Checkpoint ck = open(dir, progress);
        try {
            CheckpointValidator.validate(ck).throwIfUnusable(dir);
            return ck;
        } catch (RuntimeException e) {
            ck.close();
            throw e;
        }
    }

    static List<Path> shardFiles(Path dir) {
        Path index = dir.resolve("model.safetensors.index.json");
        if (Files.exists(index)) {
            JsonNode map = ConfigParser.readJson(index).get("weight_map");
            if (map == null || !map.isObject()) {
                throw new CheckpointException(index + ": weight_map missing");
            }
            // shard -> first tensor listed in it, to name one in errors
            Map<Path, String> byShard = new LinkedHashMap<>();
            map.fields().forEachRemaining(e -> {
                if (!e.getValue().isTextual()) {
                    throw new CheckpointException(index + ": tensor " + e.getKey() + " maps to " + e.getValue()
                            + ", not a file name");
                }
                Path p = dir.resolve(e.getValue().asText()).normalize();
                if (!p.startsWith(dir.normalize())) {
                    throw new CheckpointException(index + ": tensor " + e.getKey() + " points outside the checkpoint: " + p);
                }
                byShard.putIfAbsent(p, e.getKey());
            });
            List<Path> out = new ArrayList<>(byShard.keySet());
            Collections.sort(out);
            for (Path p : out) {
                if (!Files.isRegularFile(p)) {
                    throw new CheckpointException(index + ": shard " + p.getFileName() + " is missing (it should hold tensor "
                            + byShard.get(p) + " and others)");
                }
            }
            return out;
        }
        Path single = dir.resolve("model.safetensors");
        if (Files.exists(single)) {
            return List.of(single);
        }
        try (Stream<Path> s = Files.list(dir)) {
            List<Path> found = s.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().toList();
            if (found.isEmpty()) {
                throw new CheckpointException(dir + ": no .safetensors files");
            }
            return found;
        } catch (IOException e) {
            throw new CheckpointException(dir + ": " + e.getMessage(), e);
        }
    }

    private static void checkIndex(Path dir, Map<String, Tensor> all) {
        Path index = dir.resolve("model.safetensors.index.json");
        if (!Files.exists(index)) {
            return;
        }
        JsonNode map = ConfigParser.readJson(index).get("weight_map");
        map.fields().forEachRemaining(e -> {
            Tensor t = all.get(e.getKey());
            if (t == null) {
                throw new CheckpointException(index + ": tensor " + e.getKey() + " is listed but not in " + e.getValue().asText());
            }
        });
    }

    public Path dir() {
        return dir;
    }

    public ModelConfig config() {
        return config;
    }

    public List<SafetensorsFile> files() {
        return files;
    }

    /** Every tensor by name, in shard then header order. */
    public Map<String, Tensor> tensors() {
        return tensors;
    }

    public boolean has(String name) {
        return tensors.containsKey(name);
    }

    public Tensor tensor(String name) {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new CheckpointException(dir + ": tensor " + name + " is missing");
        }
        return t;
    }

    @Override
    public void close() {
        arena.close();
    }
}
