package io.peregrine.engine.model;

import io.peregrine.engine.checkpoint.Bytes;
import java.util.Locale;

/**
 * Progress of binding a checkpoint's text weights to a backend, reported after each layer. This is the long part
 * of loading a real checkpoint: mapping is instant, but the backend reads every byte here (the CPU backend repacks
 * the INT4 experts, the CUDA backend uploads them), so a 600 GB model spends minutes in this phase.
 *
 * @param layersDone   decoder layers bound so far (the embedding, final norm and lm_head count with the last)
 * @param bytesDone    stored bytes of the tensors bound so far
 * @param bytesTotal   stored bytes of every text tensor that will be bound
 * @param elapsedNanos since binding started
 */
public record WeightProgress(int layersDone, int layers, long bytesDone, long bytesTotal, long elapsedNanos) {

    public double fraction() {
        return bytesTotal == 0 ? 1.0 : (double) bytesDone / bytesTotal;
    }

    public double bytesPerSecond() {
        return elapsedNanos <= 0 ? 0 : bytesDone * 1e9 / elapsedNanos;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "layer %d/%d: %s of %s (%.0f%%), %s/s", layersDone, layers,
                Bytes.format(bytesDone), Bytes.format(bytesTotal), 100 * fraction(), Bytes.format((long) bytesPerSecond()));
    }
}
