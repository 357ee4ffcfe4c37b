package io.peregrine.kernels.cuda;

/**
 * One launch's shape: a grid of blocks of {@code block} threads (1-D blocks throughout) and dynamic shared memory.
 * Checked against the hardware limits every CUDA device has, so a bad size is an exception here, not a launch
 * failure on the device.
 */
public record LaunchGeometry(int gridX, int gridY, int gridZ, int block, int sharedBytes) {
    public static final int MAX_GRID_YZ = 65_535;
    public static final int DEFAULT_SHARED_LIMIT = 48 * 1024;

    public LaunchGeometry {
        if (gridX < 1 || gridY < 1 || gridZ < 1) {
            throw new IllegalArgumentException("empty grid " + gridX + "x" + gridY + "x" + gridZ);
        }
        if (gridY > MAX_GRID_YZ || gridZ > MAX_GRID_YZ) {
            throw new IllegalArgumentException("grid y/z " + gridY + "/" + gridZ + " over " + MAX_GRID_YZ);
        }
        if (block < 32 || block > 1024 || block % 32 != 0) {
            throw new IllegalArgumentException("block of " + block + " threads: need a multiple of 32 in [32, 1024]");
        }
        if (sharedBytes < 0 || sharedBytes > DEFAULT_SHARED_LIMIT) {
            throw new IllegalArgumentException("dynamic shared memory " + sharedBytes + " B over the default "
                    + DEFAULT_SHARED_LIMIT + " B limit");
        }
    }

    public static LaunchGeometry of(int gridX, int block) {
        return new LaunchGeometry(gridX, 1, 1, block, 0);
    }

    public long blocks() {
        return (long) gridX * gridY * gridZ;
    }

    static int ceilDiv(long a, long b) {
        long q = (a + b - 1) / b;
        if (q > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(a + "/" + b + " blocks overflow an int");
        }
        return (int) q;
    }
}
