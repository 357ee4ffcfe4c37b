package io.peregrine.engine.checkpoint;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes one {@code .safetensors} file in the standard format: u64 little-endian header length, a JSON header
 * ({@code __metadata__} first, as the reference Rust writer puts it, then the tensors in the order given) padded with spaces so the data starts 8-byte
 * aligned, then each tensor's little-endian bytes back to back. The header is fixed up front from the declared
 * tensors, so data is streamed in chunks and a multi-GB file never sits in heap.
 */
public final class SafetensorsWriter implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path path;
    private final FileChannel channel;
    private final List<TensorSpec> tensors;
    private int current;
    private long remaining;
    private long dataWritten;
    private boolean failed;

    private SafetensorsWriter(Path path, FileChannel channel, List<TensorSpec> tensors) {
        this.path = path;
        this.channel = channel;
        this.tensors = tensors;
        this.remaining = tensors.isEmpty() ? 0 : tensors.getFirst().byteSize();
        skipEmpty();
    }

    /** Creates (or replaces) {@code path} and writes the header for {@code tensors}; data follows through {@link #write}. */
    public static SafetensorsWriter create(Path path, List<TensorSpec> tensors, Map<String, String> metadata) {
        byte[] header = header(tensors, metadata);
        FileChannel ch;
        try {
            ch = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                    StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw new CheckpointException(path + ": cannot create: " + e.getMessage(), e);
        }
        SafetensorsWriter w = new SafetensorsWriter(path, ch, List.copyOf(tensors));
        ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length);
        w.writeFully(len);
        w.writeFully(ByteBuffer.wrap(header));
        return w;
    }

    /** The header bytes (JSON plus space padding) that {@link #create} writes after the 8-byte length. */
    public static byte[] header(List<TensorSpec> tensors, Map<String, String> metadata) {
        ObjectNode root = JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode m = root.putObject("__metadata__");
            metadata.forEach(m::put);
        }
        Set<String> seen = new HashSet<>();
        long offset = 0;
        for (TensorSpec t : tensors) {
            if (t.name().equals("__metadata__") || !seen.add(t.name())) {
                throw new IllegalArgumentException("tensor name " + t.name() + " is reserved or repeated");
            }
            ObjectNode n = root.putObject(t.name());
            n.put("dtype", t.dtype().safetensorsName());
            Arrays.stream(t.shape()).forEach(n.putArray("shape")::add);
            long end = offset + t.byteSize();
            n.putArray("data_offsets").add(offset).add(end);
            offset = end;
        }
        byte[] json;
        try {
            json = JSON.writeValueAsBytes(root);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        int padded = (json.length + 7) & ~7;
        byte[] out = Arrays.copyOf(json, padded);
        Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }

    /** The tensor the next {@link #write} belongs to, or null when every tensor is complete. */
    public TensorSpec currentTensor() {
        return current < tensors.size() ? tensors.get(current) : null;
    }

    /** Data bytes written so far (the header not counted). */
    public long dataWritten() {
        return dataWritten;
    }

    /**
     * Appends the next bytes of the current tensor (all of {@code chunk}'s remaining bytes). A chunk may not run
     * past the end of the current tensor; the next chunk then starts the following one.
     */
    public void write(ByteBuffer chunk) {
        if (!chunk.hasRemaining()) {
            return;
        }
        TensorSpec t = currentTensor();
        if (t == null) {
            throw new IllegalStateException(path + ": all " + tensors.size() + " tensors are already written");
        }
        if (chunk.remaining() > remaining) {
            throw new IllegalStateException(path + ": tensor " + t.name() + " has " + remaining
                    + " bytes left, got a chunk of " + chunk.remaining());
        }
        int n = chunk.remaining();
        writeFully(chunk);
        remaining -= n;
        dataWritten += n;
        if (remaining == 0) {
            current++;
            remaining = current < tensors.size() ? tensors.get(current).byteSize() : 0;
            skipEmpty();
        }
    }

    private void skipEmpty() {
        while (current < tensors.size() && remaining == 0) {
            current++;
            remaining = current < tensors.size() ? tensors.get(current).byteSize() : 0;
        }
    }

    private void writeFully(ByteBuffer b) {
        try {
            while (b.hasRemaining()) {
                channel.write(b);
            }
        } catch (IOException e) {
            failed = true;
            throw new CheckpointException(path + ": write failed: " + e.getMessage(), e);
        }
    }

    /** Closes the file; if any tensor is incomplete the partial file is deleted and this throws. */
    @Override
    public void close() {
        TensorSpec t = currentTensor();
        try {
            channel.close();
        } catch (IOException e) {
            failed = true;
            throw new CheckpointException(path + ": close failed: " + e.getMessage(), e);
        } finally {
            if (t != null || failed) {
                try {
                    Files.deleteIfExists(path);
                } catch (IOException ignored) {
                    // The incomplete-file error below is what the caller needs to see.
                }
            }
        }
        if (t != null) {
            throw new CheckpointException(path + ": closed with tensor " + t.name() + " incomplete (" + remaining
                    + " bytes missing); the partial file was deleted");
        }
    }
}
