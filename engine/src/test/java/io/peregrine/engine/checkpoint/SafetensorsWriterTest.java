package io.peregrine.engine.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.engine.testing.TestData;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsWriterTest {
    @TempDir
    Path dir;

    /** Every dtype, written through the writer and read back bit for bit and as floats. */
    @Test
    void roundTripsEveryDtype() {
        Random rnd = new Random(7);
        List<TensorSpec> specs = new ArrayList<>();
        List<byte[]> data = new ArrayList<>();
        for (DType d : DType.values()) {
            TensorSpec s = TensorSpec.of("t." + d.safetensorsName(), d, 3, 5);
            byte[] b = new byte[(int) s.byteSize()];
            rnd.nextBytes(b);
            specs.add(s);
            data.add(b);
        }
        specs.add(TensorSpec.of("scalar", DType.F32));
        data.add(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(0, 2.5f).array());
        specs.add(TensorSpec.of("empty", DType.BF16, 0, 4));
        data.add(new byte[0]);
        Path p = dir.resolve("all.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(p, specs, Map.of("format", "pt"))) {
            for (byte[] b : data) {
                // Two chunks per tensor: streaming must not care where chunks split.
                w.write(ByteBuffer.wrap(b, 0, b.length / 2));
                w.write(ByteBuffer.wrap(b, b.length / 2, b.length - b.length / 2));
            }
        }
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsFile f = SafetensorsFile.open(p, arena);
            assertEquals(Map.of("format", "pt"), f.metadata());
            assertEquals(specs.size(), f.tensors().size());
            for (int i = 0; i < specs.size(); i++) {
                Tensor t = f.tensor(specs.get(i).name());
                assertEquals(specs.get(i).dtype(), t.dtype());
                assertArrayEquals(specs.get(i).shape(), t.shape());
                assertArrayEquals(data.get(i), t.data().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
                for (long j = 0; j < t.numel(); j++) {
                    t.getFloat(j); // defined for every dtype
                }
            }
            assertEquals(2.5f, f.tensor("scalar").getFloat(0));
        }
    }

    @Test
    void headerIsTheStandardFraming() throws IOException {
        List<TensorSpec> specs = List.of(TensorSpec.of("a", DType.BF16, 3), TensorSpec.of("b", DType.F32, 1));
        Path p = dir.resolve("x.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(p, specs, Map.of())) {
            w.write(ByteBuffer.allocate(6));
            w.write(ByteBuffer.allocate(4));
        }
        byte[] file = Files.readAllBytes(p);
        long n = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        assertEquals(0, n % 8, "data starts 8-byte aligned");
        assertEquals(8 + n + 10, file.length);
        String header = new String(file, 8, (int) n, StandardCharsets.UTF_8);
        assertEquals("{\"a\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,6]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[6,10]}}", header.stripTrailing());
        assertTrue(header.substring(header.stripTrailing().length()).chars().allMatch(c -> c == ' '), "padded with spaces");
    }

    /**
     * The golden shards were written by an independent writer: ours gives the same header (as JSON: that writer puts
     * {@code __metadata__} last, the reference Rust one and ours first), the same padding and the same data bytes.
     */
    @Test
    void rewritesTheGoldenShardsByteForByte() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            for (String shard : List.of("model-00001-of-000003.safetensors", "model-00002-of-000003.safetensors")) {
                Path src = TestData.tinyCheckpoint().resolve(shard);
                SafetensorsFile f = SafetensorsFile.open(src, arena);
                List<TensorSpec> specs = f.tensors().values().stream()
                        .map(t -> TensorSpec.of(t.name(), t.dtype(), t.shape())).toList();
                Path out = dir.resolve(shard);
                try (SafetensorsWriter w = SafetensorsWriter.create(out, specs, f.metadata())) {
                    for (Tensor t : f.tensors().values()) {
                        w.write(t.data().asByteBuffer());
                    }
                }
                byte[] want = Files.readAllBytes(src);
                byte[] got = Files.readAllBytes(out);
                assertEquals(want.length, got.length, shard);
                int n = (int) ByteBuffer.wrap(want).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
                assertArrayEquals(Arrays.copyOf(want, 8), Arrays.copyOf(got, 8), "header length");
                ObjectMapper json = new ObjectMapper();
                assertEquals(json.readTree(new String(want, 8, n, StandardCharsets.UTF_8)),
                        json.readTree(new String(got, 8, n, StandardCharsets.UTF_8)), shard);
                assertArrayEquals(Arrays.copyOfRange(want, 8 + n, want.length), Arrays.copyOfRange(got, 8 + n, got.length),
                        shard + " data");
            }
        }
    }

    @Test
    void incompleteFileIsDeletedAndNamed() {
        Path p = dir.resolve("partial.safetensors");
        List<TensorSpec> specs = List.of(TensorSpec.of("w", DType.F32, 4));
        SafetensorsWriter w = SafetensorsWriter.create(p, specs, Map.of());
        w.write(ByteBuffer.allocate(8));
        assertThrows(IllegalStateException.class, () -> w.write(ByteBuffer.allocate(12)), "chunk past the tensor's end");
        CheckpointException e = assertThrows(CheckpointException.class, w::close);
        assertTrue(e.getMessage().contains("partial.safetensors") && e.getMessage().contains("tensor w"), e.getMessage());
        assertFalse(Files.exists(p));
    }

    @Test
    void e4m3DecodesTheOcpTable() {
        assertEquals(0f, Tensor.e4m3ToFloat((byte) 0x00));
        assertEquals(1f, Tensor.e4m3ToFloat((byte) 0x38));
        assertEquals(-2f, Tensor.e4m3ToFloat((byte) 0xC0));
        assertEquals(448f, Tensor.e4m3ToFloat((byte) 0x7E));
        assertEquals(0x1p-9f, Tensor.e4m3ToFloat((byte) 0x01));
        assertTrue(Float.isNaN(Tensor.e4m3ToFloat((byte) 0x7F)));
    }
}
