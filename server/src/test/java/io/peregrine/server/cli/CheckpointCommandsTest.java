package io.peregrine.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.checkpoint.demo.DemoCheckpoint;
import io.peregrine.engine.checkpoint.demo.DemoPreset;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class CheckpointCommandsTest {
    @TempDir
    Path dir;

    record Run(int exit, String out, String err) {}

    private static Run run(Callable<Integer> command, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = new CommandLine(command);
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int exit = cl.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    private static Path golden() {
        return Path.of(System.getProperty("peregrine.testdata", "../testdata"), "golden", "tiny-k25");
    }

    @Test
    void inspectTheGoldenCheckpoint() {
        Run r = run(new InspectCommand(), golden().toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("Validation: OK, all 222 tensors"), r.out());
        assertTrue(r.out().contains("KV cache"), r.out());
    }

    @Test
    void inspectExitCodes() throws IOException {
        Run missing = run(new InspectCommand(), dir.toString());
        assertEquals(2, missing.exit());
        assertTrue(missing.err().contains("config.json") && missing.err().contains("missing"), missing.err());

        try (var s = Files.list(golden())) {
            for (Path p : s.toList()) {
                Files.copy(p, dir.resolve(p.getFileName()));
            }
        }
        Files.delete(dir.resolve("model-00003-of-000003.safetensors"));
        Files.delete(dir.resolve("model.safetensors.index.json"));
        Run broken = run(new InspectCommand(), dir.toString());
        assertEquals(1, broken.exit(), broken.err());
        assertTrue(broken.out().contains("NOT usable"), broken.out());
    }

    @Test
    void initDemoWritesOnceThenSaysItIsThere() {
        Path target = dir.resolve("demo");
        Run first = run(new InitDemoCommand(), target.toString(), "--preset", "tiny", "--seed", "3");
        assertEquals(0, first.exit(), first.err());
        assertTrue(DemoCheckpoint.isComplete(target, DemoPreset.TINY, 3));
        assertTrue(first.err().contains("100%"), "reports progress: " + first.err());
        Run again = run(new InitDemoCommand(), target.toString(), "--preset", "tiny", "--seed", "3");
        assertEquals(0, again.exit());
        assertTrue(again.out().contains("already holds"), again.out());
        Run bad = run(new InitDemoCommand(), target.toString(), "--preset", "giant");
        assertEquals(2, bad.exit());
        assertTrue(bad.err().contains("giant") && bad.err().contains("tiny"), bad.err());
    }
}
