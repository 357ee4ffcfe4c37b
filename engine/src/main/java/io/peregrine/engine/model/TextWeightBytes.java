package io.peregrine.engine.model;

import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.checkpoint.Tensor;
import java.util.Map;

/**
 * Stored bytes of the text tensors {@link KimiTextModel} binds, per decoder layer and in all (with embedding, final
 * norm and lm_head): the denominator of {@link WeightProgress}. Tensors past the last layer (DeepSeek's MTP layer)
 * and the vision tower are not bound, so they are not counted.
 */
record TextWeightBytes(long[] perLayer, long total) {

    static TextWeightBytes of(Checkpoint ck, String root, int layers) {
        String layerPrefix = root + "model.layers.";
        long[] perLayer = new long[layers];
        long total = 0;
        for (Map.Entry<String, Tensor> e : ck.tensors().entrySet()) {
            String name = e.getKey();
            long bytes = e.getValue().data().byteSize();
            if (name.startsWith(layerPrefix)) {
                int dot = name.indexOf('.', layerPrefix.length());
                int l = dot < 0 ? -1 : parseLayer(name.substring(layerPrefix.length(), dot));
                if (l >= 0 && l < layers) {
                    perLayer[l] += bytes;
                    total += bytes;
                }
            } else if (name.startsWith(root + "model.") || name.startsWith(root + "lm_head.")) {
                total += bytes;
            }
        }
        return new TextWeightBytes(perLayer, total);
    }

    long layer(int l) {
        return perLayer[l];
    }

    private static int parseLayer(String s) {
        try {
            return Integer.parseInt(s);
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}
