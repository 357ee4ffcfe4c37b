package io.peregrine.engine.kv;

import io.peregrine.engine.backend.Activation;
import io.peregrine.engine.backend.HostMemory;
import io.peregrine.engine.backend.TensorMemory;

/**
 * The paged MLA cache: for every layer and every slot, the normalised latent {@code c_kv} followed by the
 * rotated shared rope key {@code k_pe} (spec §3.2), {@code width = kv_lora_rank + qk_rope_head_dim} floats.
 * Slots are grouped in fixed-size blocks; slot {@code s} belongs to block {@code s / blockSize}. Which blocks a
 * sequence owns is the block manager's business; the model only reads and writes slots through a block table.
 *
 * <p>Each layer's slab is one {@code [numBlocks · blockSize, width]} tensor in the memory of the backend that
 * computes on it (heap on the CPU, device memory on CUDA), kept in fp32 so decode with the cache equals recomputing
 * the prefix.
 *
 * <p>Each slab has one row past the last block, the {@link #padSlot()}: a captured decode step padded to its batch
 * bucket writes and reads its padding rows' latents there, so padding never touches a sequence's blocks.
 */
public final class LatentCache {
    private final int layers;
    private final int blockSize;
    private final int numBlocks;
    private final int width;
    private final TensorMemory memory;
    private final Activation[] slabs;

    /** A cache on the Java heap (scheduler tests, fake models). */
    public LatentCache(int layers, int numBlocks, int blockSize, int width) {
        this(new HostMemory(), layers, numBlocks, blockSize, width);
    }

    /** A cache whose slabs {@code memory} allocates: the backend's, so the model reads and writes them in place. */
    public LatentCache(TensorMemory memory, int layers, int numBlocks, int blockSize, int width) {
        if (layers <= 0 || numBlocks <= 0 || blockSize <= 0 || width <= 0) {
            throw new IllegalArgumentException("bad cache geometry");
        }
        long perLayer = ((long) numBlocks * blockSize + 1) * width;
        if (perLayer > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("cache too large for one slab per layer: " + perLayer + " floats");
        }
        this.layers = layers;
        this.blockSize = blockSize;
        this.numBlocks = numBlocks;
        this.width = width;
        this.memory = memory;
        this.slabs = new Activation[layers];
        for (int l = 0; l < layers; l++) {
            slabs[l] = memory.allocate(numBlocks * blockSize + 1, width);
        }
    }

    /** Blocks that fit a byte budget (fp32, all layers), by the arithmetic {@code plan} uses too. */
    public static int blocksForBudget(long bytes, int layers, int blockSize, int width) {
        long blocks = new KvCacheGeometry(layers, width, Float.BYTES, blockSize).blocksFor(bytes);
        return (int) Math.min(Integer.MAX_VALUE, blocks);
    }

    public int layers() {
        return layers;
    }

    public int blockSize() {
        return blockSize;
    }

    public int numBlocks() {
        return numBlocks;
    }

    public int width() {
        return width;
    }

    /** The slot of token position {@code pos} of a sequence whose blocks are {@code blockTable}. */
    public int slot(int[] blockTable, int pos) {
        return blockTable[pos / blockSize] * blockSize + pos % blockSize;
    }

    /**
     * The slot past every block, owned by no sequence: where padding rows of a captured decode step write their
     * latents and what they attend to.
     */
    public int padSlot() {
        return numBlocks * blockSize;
    }

    /** Layer {@code l}'s slab: row {@code s} is slot {@code s} (and one row more, the {@link #padSlot()}). */
    public Activation slab(int layer) {
        return slabs[layer];
    }

    /** Copies one slot's latent in from the host (fake models; the real one scatters on its backend). */
    public void write(int layer, int slot, float[] src, int srcOffset) {
        memory.copyIn(src, srcOffset, slabs[layer].rows(slot, 1));
    }

    /** Where the slabs live. */
    public TensorMemory memory() {
        return memory;
    }

    /** Copies every layer's slots of block {@code src} into block {@code dst} (copy-on-write of a forked tail). */
    public void copyBlock(int src, int dst) {
        if (src < 0 || src >= numBlocks || dst < 0 || dst >= numBlocks) {
            throw new IndexOutOfBoundsException("block " + src + " -> " + dst + " of " + numBlocks);
        }
        for (Activation slab : slabs) {
            memory.copy(slab.rows(src * blockSize, blockSize), slab.rows(dst * blockSize, blockSize));
        }
    }

    public long bytes() {
        return (long) layers * numBlocks * blockSize * width * Float.BYTES;
    }
}
