/**
 * Image input for Kimi K2.5 (spec §4): bytes to LM embeddings.
 *
 * <pre>
 * ImageInput (encoded bytes, sha256 = content key)
 *   -> decode.ImageDecoder      PNG/JPEG/GIF/BMP (JDK ImageIO) + WebP (TwelveMonkeys), PIL convert("RGB");
 *                               probe() reads only the header (size check, token count before decoding)
 *   -> RgbImage
 *   -> preprocess.ImagePreprocessor   K2.5 resize rule, PIL-exact bicubic, pad to 28, normalise, patchify
 *   -> preprocess.PreprocessedImage   pixel_values [patches, 3, 14, 14], GridThw, numTokens
 *   -> encoder.VisionEncoder          OnnxVisionEncoder: MoonViT-3D + sd2_tpool merger + projector on ORT
 *   -> encoder.VisionEmbeddings       [numTokens, text_hidden], row-major over the merged grid
 * </pre>
 *
 * {@link io.peregrine.engine.vision.VisionPipeline} strings these together with an
 * {@link io.peregrine.engine.vision.encoder.VisionEmbeddingCache} keyed by the bytes' SHA-256. Splicing: the
 * prompt's one {@code <|media_pad|>} per image is expanded to {@code numTokens} copies whose input embeddings are
 * replaced by the rows, in order (spec §4.8); positions continue sequentially. Bad images throw
 * {@link io.peregrine.engine.vision.decode.ImageDecodeException} (a client error).
 */
package io.peregrine.engine.vision;
