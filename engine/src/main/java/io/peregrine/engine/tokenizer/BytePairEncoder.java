package io.peregrine.engine.tokenizer;

/**
 * tiktoken's byte-pair merge for one pre-tokenized piece: start from single bytes and repeatedly merge the adjacent
 * pair whose concatenation has the lowest rank (leftmost on ties) until no pair is a token. Flat and allocation-light
 * because it runs once per word of every prompt.
 *
 * <p>Short pieces use tiktoken's rescanning loop (quadratic, but fastest for a word); pieces longer than
 * {@link #HEAP_THRESHOLD} bytes (long Han runs, repeated characters) use a linked list of parts and a min-heap of
 * (rank, position) keys, which picks the same pair at every step in O(n log n).
 */
final class BytePairEncoder {
    static final int HEAP_THRESHOLD = 48;
    private BytePairEncoder() {}

    /**
     * Appends the ranks of {@code piece[0, n)} to {@code out}; {@code work} needs room for {@code 2 * (n + 1)} ints.
     *
     * @return the number of ids appended
     */
    static int encode(RankTable table, byte[] piece, int n, int[] work, int[] out, int outPos) {
        int whole = table.rank(piece, 0, n);
        if (whole >= 0) {
            out[outPos] = whole;
            return 1;
        }
        if (n > HEAP_THRESHOLD) {
            return encodeWithHeap(table, piece, n, out, outPos);
        }
        return encodeRescanning(table, piece, n, work, out, outPos);
    }

    /** tiktoken's loop: rescan all pairs for the lowest rank after every merge. */
    static int encodeRescanning(RankTable table, byte[] piece, int n, int[] work, int[] out, int outPos) {
        // parts: start offsets of the current parts (parts[count] = n); pairRank[i] = rank of parts i and i+1 merged
        int[] start = work;
        int count = n;
        for (int i = 0; i <= n; i++) {
            start[i] = i;
        }
        int base = n + 1;
        for (int i = 0; i + 1 < count; i++) {
            work[base + i] = table.rank(piece, i, 2);
        }
        while (count > 1) {
            int best = -1;
            int bestRank = Integer.MAX_VALUE;
            for (int i = 0; i + 1 < count; i++) {
                int r = work[base + i];
                if (r >= 0 && r < bestRank) {
                    bestRank = r;
                    best = i;
                }
            }
            if (best < 0) {
                break;
            }
            // merge parts best and best+1: drop start[best+1] and pairRank[best]
            System.arraycopy(start, best + 2, start, best + 1, count - best - 1);
            System.arraycopy(work, base + best + 1, work, base + best, count - best - 2);
            count--;
            if (best > 0) {
                work[base + best - 1] = table.rank(piece, start[best - 1], start[best + 1] - start[best - 1]);
            }
            if (best + 1 < count) {
                work[base + best] = table.rank(piece, start[best], start[best + 2] - start[best]);
            }
        }
        for (int i = 0; i < count; i++) {
            out[outPos + i] = table.rank(piece, start[i], start[i + 1] - start[i]);
        }
        return count;
    }

    /**
     * The same merge order with a heap: key = rank << 32 | start byte, so the smallest key is the lowest rank and,
     * among equal ranks, the leftmost pair. Stale keys (a part that was merged away or whose right neighbour
     * changed) are skipped when popped.
     */
    static int encodeWithHeap(RankTable table, byte[] piece, int n, int[] out, int outPos) {
        int[] next = new int[n]; // start of the next part, n at the end; -1 = merged away
        int[] prev = new int[n];
        int[] pairRank = new int[n]; // rank of this part merged with the next, -1 if none
        long[] heap = new long[3 * n + 1]; // n - 1 initial pairs + at most 2 pushes per merge
        int size = 0;
        for (int i = 0; i < n; i++) {
            next[i] = i + 1;
            prev[i] = i - 1;
            pairRank[i] = i + 1 < n ? table.rank(piece, i, 2) : -1;
            if (pairRank[i] >= 0) {
                size = push(heap, size, ((long) pairRank[i] << 32) | i);
            }
        }
        while (size > 0) {
            long top = heap[0];
            size = pop(heap, size);
            int i = (int) top;
            int rank = (int) (top >>> 32);
            if (next[i] < 0 || pairRank[i] != rank) {
                continue; // stale
            }
            int j = next[i]; // merge part j into part i
            int k = next[j];
            next[i] = k;
            next[j] = -1;
            if (k < n) {
                prev[k] = i;
            }
            pairRank[i] = k < n ? table.rank(piece, i, next[k] - i) : -1;
            if (pairRank[i] >= 0) {
                size = push(heap, size, ((long) pairRank[i] << 32) | i);
            }
            int h = prev[i];
            if (h >= 0) {
                pairRank[h] = table.rank(piece, h, k - h);
                if (pairRank[h] >= 0) {
                    size = push(heap, size, ((long) pairRank[h] << 32) | h);
                }
            }
        }
        int count = 0;
        for (int i = 0; i < n; i = next[i]) {
            out[outPos + count++] = table.rank(piece, i, next[i] - i);
        }
        return count;
    }

    private static int push(long[] heap, int size, long key) {
        int i = size;
        heap[i] = key;
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            if (heap[parent] <= key) {
                break;
            }
            heap[i] = heap[parent];
            heap[parent] = key;
            i = parent;
        }
        return size + 1;
    }

    private static int pop(long[] heap, int size) {
        int last = size - 1;
        long key = heap[last];
        int i = 0;
        while (true) {
            int child = 2 * i + 1;
            if (child >= last) {
                break;
            }
            if (child + 1 < last && heap[child + 1] < heap[child]) {
                child++;
            }
            if (heap[child] >= key) {
                break;
            }
            heap[i] = heap[child];
            i = child;
        }
        heap[i] = key;
        return last;
    }
}
