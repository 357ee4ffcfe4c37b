package io.peregrine.engine.checkpoint;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One memory-mapped {@code .safetensors} file: an 8-byte little-endian header length, a JSON header, then raw
 * little-endian tensor data. The whole file is mapped once; tensors are slices of that mapping, so a file of
 * hundreds of GB costs address space, not heap. Every header field is checked before a slice is made, so a
 * corrupt file is a {@link CheckpointException}, never an out-of-bounds read.
 */
public final class SafetensorsFile {
    /** Far above any real header (the K2.5 shards have ~200 KB headers), far below a file's worth of JSON. */
    static final long MAX_HEADER_BYTES = 100L << 20;
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private final Path path;
    private final MemorySegment file;
    private final Map<String, Tensor> tensors;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path path, MemorySegment file, Map<String, Tensor> tensors, Map<String, String> metadata) {
        this.path = path;
        this.file = file;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /** Maps {@code path} into {@code arena}; the tensors live as long as the arena. */
    public static SafetensorsFile open(Path path, Arena arena) {
        MemorySegment seg;
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw new CheckpointException(path + ": truncated file (" + size + " bytes, no header length)");
            }
            seg = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
        } catch (IOException e) {
            throw new CheckpointException(path + ": cannot map: " + e.getMessage(), e);
        }
        return parse(path, seg);
    }

    static SafetensorsFile parse(Path path, MemorySegment seg) {
        long size = seg.byteSize();
        long headerLen = seg.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (headerLen < 2 || headerLen > MAX_HEADER_BYTES || headerLen > size - 8) {
            throw new CheckpointException(path + ": bad header length " + Long.toUnsignedString(headerLen)
                    + " for a file of " + size + " bytes");
        }
        String headerText = new String(seg.asSlice(8, headerLen).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
        JsonNode header;
        try {
            header = JSON.readTree(headerText);
        } catch (IOException e) {
            throw new CheckpointException(path + ": header is not valid JSON: " + e.getMessage(), e);
        }
        if (!(header instanceof ObjectNode obj)) {
            throw new CheckpointException(path + ": header is not a JSON object");
        }
        long dataStart = 8 + headerLen;
        long dataLen = size - dataStart;
        Map<String, String> metadata = new LinkedHashMap<>();
        record Span(String name, long begin, long end) {}
        List<Span> spans = new ArrayList<>();
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = obj.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey();
            JsonNode v = e.getValue();
            if (name.equals("__metadata__")) {
                if (!v.isObject()) {
                    throw new CheckpointException(path + ": __metadata__ is not an object");
                }
                v.fields().forEachRemaining(m -> metadata.put(m.getKey(), m.getValue().asText()));
                continue;
            }
            String where = path + ": tensor " + name;
            if (!v.isObject()) {
                throw new CheckpointException(where + ": entry is not an object");
            }
            JsonNode dt = v.get("dtype");
            DType dtype = dt == null || !dt.isTextual() ? null : DType.fromSafetensors(dt.asText());
            if (dtype == null) {
                throw new CheckpointException(where + ": unknown dtype " + dt);
            }
            JsonNode sh = v.get("shape");
            if (sh == null || !sh.isArray()) {
                throw new CheckpointException(where + ": missing shape");
            }
            long[] shape = new long[sh.size()];
            for (int i = 0; i < shape.length; i++) {
                JsonNode d = sh.get(i);
                if (!d.canConvertToLong() || !d.isIntegralNumber() || d.asLong() < 0) {
                    throw new CheckpointException(where + ": bad shape " + sh);
                }
                shape[i] = d.asLong();
            }
            JsonNode off = v.get("data_offsets");
            if (off == null || !off.isArray() || off.size() != 2 || !off.get(0).isIntegralNumber()
                    || !off.get(1).isIntegralNumber()) {
                throw new CheckpointException(where + ": data_offsets must be [begin, end]");
            }
            long begin = off.get(0).asLong();
            long end = off.get(1).asLong();
            if (begin < 0 || end < begin || end > dataLen) {
                throw new CheckpointException(where + ": data_offsets [" + begin + ", " + end
                        + "] outside the data section of " + dataLen + " bytes (file truncated?)");
            }
            long expected;
            try {
                expected = Math.multiplyExact(Tensor.numel(shape), dtype.bytes());
            } catch (ArithmeticException ex) {
                throw new CheckpointException(where + ": shape overflows " + sh);
            }
            if (end - begin != expected) {
                throw new CheckpointException(where + ": " + (end - begin) + " bytes but shape " + sh + " of "
                        + dtype + " needs " + expected);
            }
            spans.add(new Span(name, begin, end));
            tensors.put(name, new Tensor(name, dtype, shape, seg.asSlice(dataStart + begin, end - begin)));
        }
        spans.sort(Comparator.comparingLong(Span::begin).thenComparingLong(Span::end));
        for (int i = 1; i < spans.size(); i++) {
            Span a = spans.get(i - 1);
            Span b = spans.get(i);
            if (b.begin() < a.end() && b.end() > b.begin()) {
                throw new CheckpointException(path + ": tensors " + a.name() + " and " + b.name() + " overlap");
            }
        }
        // Like the reference implementation, the tensors must tile the data section exactly: a gap or trailing
        // bytes mean the header and the data disagree, i.e. a damaged or wrongly written file.
        long end = 0;
        for (Span sp : spans) {
            if (sp.begin() != end && sp.end() > sp.begin()) {
                throw new CheckpointException(path + ": tensor " + sp.name() + " starts at data offset " + sp.begin()
                        + " but the previous tensor ends at " + end + " (gap in the data section)");
            }
            end = Math.max(end, sp.end());
        }
        if (end != dataLen) {
            throw new CheckpointException(path + ": " + (dataLen - end) + " bytes after the last tensor's data"
                    + " (header and file size disagree)");
        }
        return new SafetensorsFile(path, seg, Collections.unmodifiableMap(tensors), Collections.unmodifiableMap(metadata));
    }

    public Path path() {
        return path;
    }

    public long byteSize() {
        return file.byteSize();
    }

    /** All tensors in header order. */
    public Map<String, Tensor> tensors() {
        return tensors;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    public Tensor tensor(String name) {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new CheckpointException(path + ": no tensor " + name);
        }
        return t;
    }
}
