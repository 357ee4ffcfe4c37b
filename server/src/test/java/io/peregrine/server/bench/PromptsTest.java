package io.peregrine.server.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PromptsTest {
    @TempDir
    Path dir;

    @Test
    void randomPromptsAreSeededAndWithinTheRange() {
        List<BenchPrompt> a = RandomPrompts.generate(200, 100, 50, 0.2, 9);
        assertEquals(a, RandomPrompts.generate(200, 100, 50, 0.2, 9));
        for (BenchPrompt p : a) {
            assertEquals(p.promptTokens(), p.text().split(" ").length);
            assertTrue(p.promptTokens() >= 80 && p.promptTokens() <= 120, "input " + p.promptTokens());
            assertTrue(p.maxTokens() >= 40 && p.maxTokens() <= 60, "output " + p.maxTokens());
        }
        assertTrue(a.stream().mapToInt(BenchPrompt::promptTokens).distinct().count() > 10, "lengths vary");
        List<BenchPrompt> fixed = RandomPrompts.generate(5, 16, 8, 0, 1);
        assertTrue(fixed.stream().allMatch(p -> p.promptTokens() == 16 && p.maxTokens() == 8));
    }

    /** The reason random prompts are word lists: each word after a space is one token of Kimi's vocabulary. */
    @Test
    void everyRandomWordIsOneKimiToken() throws Exception {
        Set<String> tokens = new HashSet<>();
        try (var in = getClass().getResourceAsStream("/io/peregrine/engine/kimi-k25/tiktoken.model")) {
            assertTrue(in != null, "Kimi's tiktoken.model is on the class path (engine resources)");
            for (String line : new String(in.readAllBytes(), StandardCharsets.US_ASCII).split("\n")) {
                tokens.add(new String(Base64.getDecoder().decode(line.substring(0, line.indexOf(' '))),
                        StandardCharsets.ISO_8859_1));
            }
        }
        assertTrue(tokens.size() > 160_000, "the full vocabulary: " + tokens.size());
        for (String w : RandomPrompts.WORDS) {
            assertTrue(tokens.contains(" " + w), "' " + w + "' is a single token");
        }
        assertEquals(RandomPrompts.WORDS.length, Set.of(RandomPrompts.WORDS).size(), "no duplicates");
    }

    @Test
    void jsonlPromptsCycleAndTakeTheirLengths() throws Exception {
        Path f = dir.resolve("p.jsonl");
        Files.writeString(f, "{\"prompt\": \"hello there\", \"output_len\": 7}\n\n"
                + "{\"prompt\": \"bye\", \"input_len\": 1}\n");
        List<BenchPrompt> p = JsonlPrompts.read(f, 5, 32);
        assertEquals(5, p.size());
        assertEquals(new BenchPrompt("hello there", -1, 7), p.get(0));
        assertEquals(new BenchPrompt("bye", 1, 32), p.get(1));
        assertEquals(p.get(0), p.get(4));
    }

    @Test
    void badJsonlLinesAreNamedByFileAndLine() throws Exception {
        Path f = dir.resolve("bad.jsonl");
        Files.writeString(f, "{\"prompt\": \"ok\"}\n{\"text\": \"no prompt\"}\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> JsonlPrompts.read(f, 1, 8));
        assertTrue(e.getMessage().contains("bad.jsonl:2") && e.getMessage().contains("\"prompt\""), e.getMessage());
        Files.writeString(f, "{\"prompt\": \"ok\", \"output_len\": 0}\n");
        e = assertThrows(IllegalArgumentException.class, () -> JsonlPrompts.read(f, 1, 8));
        assertTrue(e.getMessage().contains("output_len"), e.getMessage());
        Files.writeString(f, "not json\n");
        e = assertThrows(IllegalArgumentException.class, () -> JsonlPrompts.read(f, 1, 8));
        assertTrue(e.getMessage().contains("bad.jsonl:1: not JSON"), e.getMessage());
    }
}
