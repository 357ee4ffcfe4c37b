package io.peregrine.engine.vision;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.engine.testing.TestData;
import io.peregrine.engine.vision.decode.ImageDecoder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The committed copy of vision-golden (testdata/golden/vision-golden; see the golden README §4). */
public final class VisionGolden {
    private VisionGolden() {}

    public static Path dir() {
        return TestData.golden("vision-golden");
    }

    public static Path file(String name) {
        return dir().resolve(name);
    }

    public static JsonNode json() {
        try {
            return new ObjectMapper().readTree(file("vision_golden.json").toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static JsonNode item(String name) {
        for (JsonNode item : json().get("items")) {
            if (item.get("name").asText().equals(name)) {
                return item;
            }
        }
        throw new IllegalArgumentException("no golden item " + name);
    }

    public static ImageInput input(String relative) {
        try {
            return new ImageInput(Files.readAllBytes(file(relative)), relative);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static RgbImage decode(String relative) {
        return new ImageDecoder().decode(input(relative));
    }

    public static List<String> inputFiles(JsonNode item) {
        List<String> out = new ArrayList<>();
        item.get("input_files").forEach(n -> out.add(n.asText()));
        return out;
    }

    /** img1's JPEG as PIL (libjpeg-turbo) decoded it. */
    public static RgbImage img1AsPilDecodedIt() {
        try {
            Npy npy = Npy.read(file("img1_97x61.decoded_rgb.u8.npy"));
            return new RgbImage(npy.shape()[1], npy.shape()[0], npy.bytes());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
