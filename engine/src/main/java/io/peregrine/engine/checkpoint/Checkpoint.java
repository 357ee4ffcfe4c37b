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

    /** Progress of mapping shards: shard index (1-based), shard count, the shard's path. */
    public record LoadProgress(int shard, int shards, Path file, long bytes) {}

    public static Checkpoint open(Path dir) {
        return open(dir, p -> {});
    }

    public static Checkpoint open(Path dir, Consumer<LoadProgress> progress) {
        ModelConfig config = ConfigParser.read(dir);
        List<Path> shards = shardFiles(dir);
        Arena arena = Arena.ofShared();
        try {
            List<SafetensorsFile> files = new ArrayList<>();
            Map<String, Tensor> all = new LinkedHashMap<>();
            for (int i = 0; i < shards.size(); i++) {
                SafetensorsFile f = SafetensorsFile.open(shards.get(i), arena);
                files.add(f);
                for (Tensor t : f.tensors().values()) {
                    if (all.put(t.name(), t) != null) {
                        throw new CheckpointException(f.path() + ": tensor " + t.name() + " also appears in another shard");
                    }
                }
                progress.accept(new LoadProgress(i + 1, shards.size(), f.path(), f.byteSize()));
            }
            checkIndex(dir, all);
            return new Checkpoint(dir, config, arena, List.copyOf(files), Collections.unmodifiableMap(all));
        } catch (RuntimeException e) {
            arena.close();
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
            List<Path> out = new ArrayList<>();
            map.fields().forEachRemaining(e -> {
                Path p = dir.resolve(e.getValue().asText()).normalize();
                if (!p.startsWith(dir.normalize())) {
                    throw new CheckpointException(index + ": tensor " + e.getKey() + " points outside the checkpoint: " + p);
                }
                if (!out.contains(p)) {
                    out.add(p);
                }
            });
            Collections.sort(out);
            for (Path p : out) {
                if (!Files.isRegularFile(p)) {
                    throw new CheckpointException(index + ": shard " + p.getFileName() + " is missing");
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
