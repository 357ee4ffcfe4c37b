package io.peregrine.engine.vision.encoder;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Projector outputs by image content key, least-recently-used first out, bounded by bytes. Agents resend the
 * same screenshots every turn; a hit skips decoding, preprocessing and the tower. Thread-safe; a value is
 * computed outside the lock, so two threads missing on the same key may both compute it (last one wins).
 */
public final class VisionEmbeddingCache {
    private final long maxBytes;
    private final LinkedHashMap<String, VisionEmbeddings> entries = new LinkedHashMap<>(16, 0.75f, true);
    private long bytes;
    private long hits;
    private long misses;

    public VisionEmbeddingCache(long maxBytes) {
        if (maxBytes < 0) {
            throw new IllegalArgumentException("maxBytes must not be negative: " + maxBytes);
        }
        this.maxBytes = maxBytes;
    }

    public VisionEmbeddings get(String key, Supplier<VisionEmbeddings> compute) {
        synchronized (this) {
            VisionEmbeddings hit = entries.get(key);
            if (hit != null) {
                hits++;
                return hit;
            }
            misses++;
        }
        VisionEmbeddings value = compute.get();
        put(key, value);
        return value;
    }

    private synchronized void put(String key, VisionEmbeddings value) {
        long size = sizeOf(value);
        if (size > maxBytes) {
            return;
        }
        VisionEmbeddings old = entries.put(key, value);
        bytes += size - (old == null ? 0 : sizeOf(old));
        Iterator<Map.Entry<String, VisionEmbeddings>> it = entries.entrySet().iterator();
        while (bytes > maxBytes && it.hasNext()) {
            Map.Entry<String, VisionEmbeddings> eldest = it.next();
            bytes -= sizeOf(eldest.getValue());
            it.remove();
        }
    }

    public synchronized long hits() {
        return hits;
    }

    public synchronized long misses() {
        return misses;
    }

    public synchronized long bytes() {
        return bytes;
    }

    public synchronized int size() {
        return entries.size();
    }

    private static long sizeOf(VisionEmbeddings e) {
        return 4L * e.values().length;
    }
}
