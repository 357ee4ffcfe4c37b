package io.peregrine.server.bench;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.api.json.Json;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Prompts from a JSONL file, one object a line: {@code {"prompt": "...", "output_len": 128, "input_len": 57}}
 * ({@code output_len} and {@code input_len} optional; vLLM's custom dataset uses the same {@code prompt} key).
 * Blank lines are skipped. When the file has fewer lines than requests, it is cycled.
 */
public final class JsonlPrompts {
    private JsonlPrompts() {}

    public static List<BenchPrompt> read(Path file, int count, int defaultOutputLen) throws IOException {
        ObjectMapper json = Json.newMapper();
        List<BenchPrompt> lines = new ArrayList<>();
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            int no = 0;
            while ((line = in.readLine()) != null) {
                no++;
                if (line.isBlank()) {
                    continue;
                }
                String where = file + ":" + no;
                JsonNode node;
                try {
                    node = json.readTree(line);
                } catch (JsonProcessingException e) {
                    throw new IllegalArgumentException(where + ": not JSON: " + e.getOriginalMessage());
                }
                JsonNode prompt = node.get("prompt");
                if (prompt == null || !prompt.isTextual() || prompt.textValue().isEmpty()) {
                    throw new IllegalArgumentException(where + ": needs a non-empty string field \"prompt\"");
                }
                int out = intField(node, "output_len", defaultOutputLen, where);
                int inLen = intField(node, "input_len", -1, where);
                lines.add(new BenchPrompt(prompt.textValue(), inLen, out));
            }
        }
        if (lines.isEmpty()) {
            throw new IllegalArgumentException(file + ": no prompts in the file");
        }
        List<BenchPrompt> prompts = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            prompts.add(lines.get(i % lines.size()));
        }
        return prompts;
    }

    private static int intField(JsonNode node, String name, int fallback, String where) {
        JsonNode v = node.get(name);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!v.canConvertToInt() || !v.isIntegralNumber() || v.intValue() < 1) {
            throw new IllegalArgumentException(where + ": \"" + name + "\" must be a positive integer, got " + v);
        }
        return v.intValue();
    }
}
