package io.peregrine.server.bench;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Arrays;

/**
 * Times one SSE response line by line, as vLLM's benchmark request functions do: TTFT is the first chunk that
 * carries generated text, each later such chunk adds one inter-token gap, the latency ends at the last data
 * event. Unlike vLLM, chunks without generated text (the role-only opening chunk, the finish chunk) neither set
 * TTFT nor add a gap: counting them would report a header as a token.
 */
final class StreamMeter {
    private final ObjectMapper json;
    private final Ticker ticker;
    private final long startNanos;
    private long firstNanos = -1;
    private long lastTextNanos;
    private long lastEventNanos;
    private long[] gaps = new long[16];
    private int gapCount;
    private int textChunks;
    private int usagePrompt = -1;
    private int usageCompletion = -1;
    private boolean done;
    private String error;

    StreamMeter(ObjectMapper json, Ticker ticker, long startNanos) {
        this.json = json;
        this.ticker = ticker;
        this.startNanos = startNanos;
    }

    /**
     * One line of the SSE stream, just received. The clock is read once per data event other than
     * {@code [DONE]} and never for other lines, so a scripted clock can step exactly once per event.
     */
    void line(String line) {
        if (!line.startsWith("data:")) {
            return; // comments (keep-alives), blank separators, event/id fields
        }
        String data = line.substring(5).strip();
        if (data.equals("[DONE]")) {
            done = true;
            return;
        }
        long nanos = ticker.nanoTime();
        lastEventNanos = nanos;
        JsonNode chunk;
        try {
            chunk = json.readTree(data);
        } catch (JsonProcessingException e) {
            error = "unparseable SSE data: " + abbreviate(data);
            return;
        }
        if (chunk.has("error")) {
            JsonNode e = chunk.get("error");
            error = "error event: " + abbreviate(e.path("message").asText(e.toString()));
            return;
        }
        JsonNode usage = chunk.get("usage");
        if (usage != null && usage.isObject()) {
            usagePrompt = usage.path("prompt_tokens").asInt(-1);
            usageCompletion = usage.path("completion_tokens").asInt(-1);
        }
        JsonNode choices = chunk.get("choices");
        if (choices != null && choices.size() > 0 && hasText(choices.get(0))) {
            if (firstNanos < 0) {
                firstNanos = nanos;
            } else {
                if (gapCount == gaps.length) {
                    gaps = Arrays.copyOf(gaps, gapCount * 2);
                }
                gaps[gapCount++] = nanos - lastTextNanos;
            }
            lastTextNanos = nanos;
            textChunks++;
        }
    }

    private static boolean hasText(JsonNode choice) {
        JsonNode delta = choice.get("delta");
        if (delta == null) {
            return !choice.path("text").asText("").isEmpty();
        }
        return !delta.path("content").asText("").isEmpty() || !delta.path("reasoning_content").asText("").isEmpty()
                || !delta.path("reasoning").asText("").isEmpty() || delta.path("tool_calls").size() > 0;
    }

    boolean done() {
        return done;
    }

    RequestOutcome outcome(int index, BenchPrompt prompt) {
        if (error != null) {
            return RequestOutcome.failed(index, Fault.NONE, error);
        }
        if (!done) {
            return RequestOutcome.failed(index, Fault.NONE, "stream ended without data: [DONE]");
        }
        if (firstNanos < 0) {
            return RequestOutcome.failed(index, Fault.NONE, "stream carried no generated text");
        }
        int promptTokens = usagePrompt >= 0 ? usagePrompt : Math.max(prompt.promptTokens(), 0);
        int outputTokens = usageCompletion >= 0 ? usageCompletion : textChunks;
        return new RequestOutcome(index, Fault.NONE, true, promptTokens, outputTokens, firstNanos - startNanos,
                Arrays.copyOf(gaps, gapCount), lastEventNanos - startNanos, null);
    }

    static String abbreviate(String s) {
        return s.length() <= 200 ? s : s.substring(0, 200) + "...";
    }
}
