package io.peregrine.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.checkpoint.demo.DemoCheckpoint;
import io.peregrine.engine.tokenizer.KimiTokenizer;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code peregrine generate --prompt TEXT}: encoded with the checkpoint's tokenizer, output printed as text. */
class GenerateCommandTest {
    @TempDir
    Path dir;

    private record Run(int exit, String out, String err) {}

    private static Run generate(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = new CommandLine(new GenerateCommand());
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int exit = cl.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    private static String line(String out, String prefix) {
        return out.lines().filter(l -> l.startsWith(prefix)).findFirst()
                .orElseThrow(() -> new AssertionError("no '" + prefix + "' line in:\n" + out)).substring(prefix.length());
    }

    @Test
    void textPromptIsEncodedAndTheOutputDecoded() {
        Path model = DemoCheckpoint.ensure(dir.resolve("tiny"), "tiny");
        KimiTokenizer tokenizer = KimiTokenizer.fromDirectory(model);
        String prompt = "Peregrine falcons nest on cliffs";
        Run r = generate("--model", model.toString(), "--prompt", prompt, "--max-tokens", "5", "--ignore-eos",
                "--threads", "1");
        assertEquals(0, r.exit(), r.err());
        int[] encoded = tokenizer.encodeOrdinary(prompt);
        int[] expectedIds = new int[encoded.length + 1];
        expectedIds[0] = tokenizer.requireSpecialId("[BOS]");
        System.arraycopy(encoded, 0, expectedIds, 1, encoded.length);
        assertEquals(Arrays.toString(expectedIds), line(r.out(), "prompt ids: "));
        int[] generated = Arrays.stream(line(r.out(), "tokens:").trim().split(" ")).mapToInt(Integer::parseInt).toArray();
        assertEquals(5, generated.length);
        assertEquals(tokenizer.decode(generated), line(r.out(), "text: "));

        // the same ids given directly give the same tokens
        Run byIds = generate("--model", model.toString(), "--prompt-ids",
                String.join(",", Arrays.stream(expectedIds).mapToObj(Integer::toString).toList()), "--max-tokens", "5",
                "--ignore-eos", "--threads", "1");
        assertEquals(0, byIds.exit(), byIds.err());
        assertEquals(line(r.out(), "tokens:"), line(byIds.out(), "tokens:"));
    }

    @Test
    void textPromptWithoutTokenizerFilesSaysWhatIsMissing() {
        Path golden = Path.of(System.getProperty("peregrine.testdata", "../testdata"), "golden", "tiny-k25");
        Run r = generate("--model", golden.toString(), "--prompt", "hello");
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("tiktoken.model") && r.err().contains("--prompt-ids"), r.err());
    }
}
