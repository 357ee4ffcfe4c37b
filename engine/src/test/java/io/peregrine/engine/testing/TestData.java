package io.peregrine.engine.testing;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates the committed fixtures under {@code testdata/} (copied from the golden set; see testdata/golden/README.md). */
public final class TestData {
    private TestData() {}

    public static Path root() {
        String p = System.getProperty("peregrine.testdata");
        Path root = p != null ? Path.of(p) : Path.of("..", "testdata");
        if (!Files.isDirectory(root)) {
            throw new IllegalStateException("test fixtures not found at " + root.toAbsolutePath());
        }
        return root;
    }

    public static Path golden(String first, String... more) {
        return root().resolve("golden").resolve(Path.of(first, more));
    }

    public static Path tinyCheckpoint() {
        return golden("tiny-k25");
    }
}
