package io.peregrine.server.bench;

/**
 * What one request measured. Times are nanoseconds from the moment the request was sent. For a fault request,
 * {@code success} means the fault played out as it should (a malformed request got a 4xx, a disconnect was
 * accepted before the hang-up); its timings are not measured.
 *
 * @param promptTokens the server's usage.prompt_tokens, else the dataset's count, else 0
 * @param outputTokens the server's usage.completion_tokens, else the number of content chunks
 * @param ttftNanos    first chunk with generated text (non-streamed: the whole latency)
 * @param itlNanos     gaps between consecutive chunks with generated text
 * @param latencyNanos until the last data event
 */
public record RequestOutcome(int index, Fault fault, boolean success, int promptTokens, int outputTokens,
                             long ttftNanos, long[] itlNanos, long latencyNanos, String error) {
    public RequestOutcome {
        itlNanos = itlNanos.clone();
    }

    @Override
    public long[] itlNanos() {
        return itlNanos.clone();
    }

    public static RequestOutcome failed(int index, Fault fault, String error) {
        return new RequestOutcome(index, fault, false, 0, 0, 0, new long[0], 0, error);
    }

    public static RequestOutcome faultPlayed(int index, Fault fault) {
        return new RequestOutcome(index, fault, true, 0, 0, 0, new long[0], 0, null);
    }
}
