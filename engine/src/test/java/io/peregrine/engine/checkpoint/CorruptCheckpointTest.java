package io.peregrine.engine.checkpoint;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.config.ConfigException;
import io.peregrine.engine.testing.TestData;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every way a file can be damaged is a {@link CheckpointException} naming the file and, where there is one, the tensor. */
class CorruptCheckpointTest {
    @TempDir
    Path dir;

    private Path file(String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        Path p = dir.resolve("shard.safetensors");
        Files.write(p, b.array());
        return p;
    }

    private static void assertRejected(Path p, String... fragments) {
        CheckpointException e = assertThrows(CheckpointException.class, () -> {
            try (Arena arena = Arena.ofConfined()) {
                SafetensorsFile.open(p, arena);
            }
        });
        assertTrue(e.getMessage().startsWith(p.toString() + ": "), () -> "names the file: " + e.getMessage());
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), () -> "'" + e.getMessage() + "' should mention " + f);
        }
    }

    private static final String W = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}";

    @Test
    void validFileOpens() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsFile.open(file(W + "}", 16), arena).tensor("w");
        }
    }

    @Test
    void headerLengthBeyondTheFile() throws IOException {
        Path p = file(W + "}", 16);
        byte[] b = Files.readAllBytes(p);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 1L << 40);
        Files.write(p, b);
        assertRejected(p, "header length");
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, -5);
        Files.write(p, b);
        assertRejected(p, "header length");
    }

    @Test
    void fileShorterThanTheLengthField() throws IOException {
        Path p = dir.resolve("stub.safetensors");
        Files.write(p, new byte[] {1, 2, 3});
        assertRejected(p, "truncated");
    }

    @Test
    void headerNotJson() throws IOException {
        assertRejected(file("{\"w\":{\"dtype\":\"F32\",", 16), "not valid JSON");
        assertRejected(file("[1, 2, 3]", 0), "not a JSON object");
        assertRejected(file(W + ",\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 16), "not valid JSON", "w");
        assertRejected(file("{\"__metadata__\":[1]}", 0), "__metadata__");
    }

    @Test
    void unknownDtype() throws IOException {
        assertRejected(file("{\"w\":{\"dtype\":\"F4\",\"shape\":[8],\"data_offsets\":[0,4]}}", 4), "tensor w", "unknown dtype", "F4");
        assertRejected(file("{\"w\":{\"shape\":[8],\"data_offsets\":[0,4]}}", 4), "tensor w", "dtype");
    }

    @Test
    void badShape() throws IOException {
        assertRejected(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1,4],\"data_offsets\":[0,16]}}", 16), "tensor w", "shape");
        assertRejected(file("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,16]}}", 16), "tensor w", "shape");
        assertRejected(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,16]}}", 16),
                "tensor w", "overflows");
    }

    @Test
    void shapeAndByteCountDisagree() throws IOException {
        assertRejected(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,16]}}", 16),
                "tensor w", "16 bytes", "needs 24");
    }

    @Test
    void offsetsOutsideTheFile() throws IOException {
        assertRejected(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[1000,1016]}}", 16), "tensor w", "outside");
        assertRejected(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[16,0]}}", 16), "tensor w");
        assertRejected(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0]}}", 16), "tensor w", "data_offsets");
    }

    @Test
    void truncatedData() throws IOException {
        assertRejected(file(W + "}", 10), "tensor w", "truncated");
    }

    @Test
    void overlappingTensors() throws IOException {
        assertRejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16), "tensors a and b overlap");
    }

    @Test
    void gapsAndTrailingBytes() throws IOException {
        assertRejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12), "tensor b", "gap");
        assertRejected(file(W + "}", 24), "8 bytes after the last tensor");
    }

    /** A copy of the golden checkpoint with {@code damage} applied. */
    private Path damagedCopy(IoAction damage) throws IOException {
        Path ck = dir.resolve("ck");
        Files.createDirectories(ck);
        try (var s = Files.list(TestData.tinyCheckpoint())) {
            for (Path p : s.toList()) {
                Files.copy(p, ck.resolve(p.getFileName()));
            }
        }
        damage.apply(ck);
        return ck;
    }

    interface IoAction {
        void apply(Path ck) throws IOException;
    }

    @Test
    void missingShard() throws IOException {
        Path ck = damagedCopy(d -> Files.delete(d.resolve("model-00002-of-000003.safetensors")));
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.open(ck));
        assertTrue(e.getMessage().contains("model.safetensors.index.json") && e.getMessage().contains("model-00002-of-000003")
                && e.getMessage().contains("missing") && e.getMessage().contains("language_model."), e.getMessage());
    }

    @Test
    void truncatedShardInACheckpoint() throws IOException {
        Path ck = damagedCopy(d -> {
            Path p = d.resolve("model-00003-of-000003.safetensors");
            byte[] b = Files.readAllBytes(p);
            Files.write(p, Arrays.copyOf(b, b.length - 100));
        });
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.open(ck));
        assertTrue(e.getMessage().contains("model-00003-of-000003.safetensors: tensor "), e.getMessage());
    }

    @Test
    void indexListsATensorNoShardHas() throws IOException {
        Path ck = damagedCopy(d -> {
            Path idx = d.resolve("model.safetensors.index.json");
            Files.writeString(idx, Files.readString(idx).replace("\"weight_map\": {",
                    "\"weight_map\": {\"language_model.model.layers.9.ghost.weight\": \"model-00001-of-000003.safetensors\","));
        });
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.open(ck));
        assertTrue(e.getMessage().contains("layers.9.ghost.weight"), e.getMessage());
    }

    @Test
    void indexPointingOutsideTheDirectory() throws IOException {
        Path ck = damagedCopy(d -> {
            Path idx = d.resolve("model.safetensors.index.json");
            Files.writeString(idx, Files.readString(idx).replaceFirst("\"model-00001-of-000003.safetensors\"", "\"../evil.safetensors\""));
        });
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.open(ck));
        assertTrue(e.getMessage().contains("outside the checkpoint"), e.getMessage());
    }

    @Test
    void brokenConfigNamesTheConfig() throws IOException {
        Path ck = damagedCopy(d -> Files.writeString(d.resolve("config.json"), "{\"model_type\": \"kimi_k25\"}"));
        ConfigException e = assertThrows(ConfigException.class, () -> Checkpoint.open(ck));
        assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains("text_config"), e.getMessage());
    }
}
