package io.peregrine.engine.vision.encoder;

import java.util.Locale;

/**
 * Where the vision tower runs ({@code --mm-encoder-backend}): {@link #AUTO} picks {@link #DEVICE} when the text model
 * runs on a GPU backend and {@link #ONNX} otherwise.
 */
public enum EncoderPlacement {
    AUTO,
    /** ONNX Runtime on the host CPU ({@link OnnxVisionEncoder}): the default without a GPU. */
    ONNX,
    /** The model's own backend ({@link MoonVitEncoder}): the tower next to the text model on the GPU. */
    DEVICE;

    public static EncoderPlacement parse(String value) {
        try {
            return valueOf(value.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--mm-encoder-backend must be auto, onnx or device, got " + value);
        }
    }

    /** The placement for a model on {@code backendName} ({@code cpu}, {@code cuda:0}, ...). */
    public EncoderPlacement resolve(String backendName) {
        if (this != AUTO) {
            return this;
        }
        return backendName.toLowerCase(Locale.ROOT).contains("cuda") ? DEVICE : ONNX;
    }
}
