package io.peregrine.server.sampling;

import com.fasterxml.jackson.databind.JsonNode;
import io.peregrine.server.http.ApiException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Validates sampling fields (ranges as vLLM and OpenAI define them) and applies the policy and defaults.
 * Unset temperature/top_p take Kimi K2.5's recommended values (1.0 thinking, 0.6 instant; top_p 0.95), as the
 * model card and the Moonshot API do, rather than OpenAI's 1.0/1.0.
 */
public final class SamplingResolver {
    static final double THINKING_TEMPERATURE = 1.0;
    static final double INSTANT_TEMPERATURE = 0.6;
    static final double TOP_P = 0.95;
    static final int MAX_N = 16;
    static final int MAX_STOP = 16;
    static final int MAX_LOGPROBS = 20;

    private final SamplingPolicy policy;

    public SamplingResolver(SamplingPolicy policy) {
        this.policy = policy;
    }

    /** The request's sampling, all but max_tokens (known once the prompt is rendered). */
    public SamplingSettings resolve(SamplingInput in, boolean thinking) throws ApiException {
        double recommendedTemperature = thinking ? THINKING_TEMPERATURE : INSTANT_TEMPERATURE;
        if (policy == SamplingPolicy.MOONSHOT) {
            requireFixed(in.temperature(), recommendedTemperature, "temperature",
                    thinking ? " in thinking mode" : " in instant mode");
            requireFixed(in.topP(), TOP_P, "top_p", "");
            requireFixed(in.presencePenalty(), 0.0, "presence_penalty", "");
            requireFixed(in.frequencyPenalty(), 0.0, "frequency_penalty", "");
            if (in.n() != null && in.n() != 1) {
                throw ApiException.invalid("invalid n: only 1 is allowed for this model", "n");
            }
        }
        double temperature = in.temperature() == null ? recommendedTemperature : in.temperature();
        range(temperature, 0.0, 2.0, "temperature");
        double topP = in.topP() == null ? TOP_P : in.topP();
        if (!(topP > 0.0 && topP <= 1.0)) {
            throw ApiException.invalid("top_p must be in (0, 1], got " + topP, "top_p");
        }
        int topK = in.topK() == null ? 0 : in.topK();
        if (topK < -1) {
            throw ApiException.invalid("top_k must be -1 (disabled), 0 (disabled) or positive, got " + topK, "top_k");
        }
        double minP = in.minP() == null ? 0.0 : in.minP();
        range(minP, 0.0, 1.0, "min_p");
        double presence = in.presencePenalty() == null ? 0.0 : in.presencePenalty();
        range(presence, -2.0, 2.0, "presence_penalty");
        double frequency = in.frequencyPenalty() == null ? 0.0 : in.frequencyPenalty();
        range(frequency, -2.0, 2.0, "frequency_penalty");
        double repetition = in.repetitionPenalty() == null ? 1.0 : in.repetitionPenalty();
        if (!(repetition > 0.0 && repetition <= 2.0)) {
            throw ApiException.invalid("repetition_penalty must be in (0, 2], got " + repetition, "repetition_penalty");
        }
        int n = in.n() == null ? 1 : in.n();
        if (n < 1 || n > MAX_N) {
            throw ApiException.invalid("n must be between 1 and " + MAX_N + ", got " + n, "n");
        }
        List<String> stop = in.stop() == null ? List.of() : in.stop();
        List<Integer> stopIds = in.stopTokenIds() == null ? List.of() : in.stopTokenIds();
        for (int i = 0; i < stopIds.size(); i++) {
            if (stopIds.get(i) == null || stopIds.get(i) < 0) {
                throw ApiException.invalid("stop_token_ids must be non-negative integers", "stop_token_ids[" + i + "]");
            }
        }
        boolean ignoreEos = Boolean.TRUE.equals(in.ignoreEos());
        int logprobs = in.logprobs();
        Long seed = in.seed();
        return new SamplingSettings(temperature, topP, Math.max(topK, 0), minP, presence, frequency, repetition,
                seed, stop, stopIds, ignoreEos, logprobs, n);
    }

    /**
     * An id the tokenizer does not have can never be sampled, so a stop on it would silently never fire: the
     * client has the wrong model's ids. Checked apart from {@link #resolve} because only the runtime knows the
     * vocabulary.
     */
    public static void requireStopIdsInVocabulary(List<Integer> stopTokenIds, int vocabSize) throws ApiException {
        if (stopTokenIds == null) {
            return;
        }
        for (int i = 0; i < stopTokenIds.size(); i++) {
            Integer id = stopTokenIds.get(i);
            if (id != null && id >= vocabSize) {
                throw ApiException.invalid("stop_token_ids[" + i + "] = " + id + " is not a token id of this model's "
                        + "vocabulary [0, " + vocabSize + ")", "stop_token_ids[" + i + "]");
            }
        }
    }

    private static void requireFixed(Double value, double expected, String field, String mode) throws ApiException {
        if (value != null && Math.abs(value - expected) > 1e-9) {
            throw ApiException.invalid("invalid " + field + ": only " + trim(expected) + " is allowed for this model"
                    + mode, field);
        }
    }

    private static String trim(double v) {
        return v == Math.rint(v) ? String.valueOf((long) v) : String.valueOf(v);
    }

    private static void range(double v, double lo, double hi, String field) throws ApiException {
        if (!(v >= lo && v <= hi)) {
            throw ApiException.invalid(field + " must be between " + trim(lo) + " and " + trim(hi) + ", got " + v, field);
        }
    }

    /** OpenAI's {@code stop}: a string or an array of strings, each non-empty. */
    public static List<String> stopStrings(JsonNode stop) throws ApiException {
        if (stop == null || stop.isNull()) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        if (stop.isTextual()) {
            out.add(stop.textValue());
        } else if (stop.isArray()) {
            for (int i = 0; i < stop.size(); i++) {
                JsonNode s = stop.get(i);
                if (!s.isTextual()) {
                    throw ApiException.invalid("stop must be a string or an array of strings", "stop[" + i + "]");
                }
                out.add(s.textValue());
            }
        } else {
            throw ApiException.invalid("stop must be a string or an array of strings", "stop");
        }
        return stopSequences(out, "stop");
    }

    /**
     * Stop sequences already read from the request, held to the limits every API shares.
     *
     * @param field the client's name for them ({@code stop}, Anthropic's {@code stop_sequences}), for the 400
     */
    public static List<String> stopSequences(List<String> stops, String field) throws ApiException {
        if (stops.size() > MAX_STOP) {
            throw ApiException.invalid("at most " + MAX_STOP + " stop sequences are allowed, got " + stops.size(), field);
        }
        for (String s : stops) {
            if (s.isEmpty() || s.getBytes(StandardCharsets.UTF_8).length > 256) {
                throw ApiException.invalid("each stop sequence must be 1 to 256 bytes", field);
            }
        }
        return stops;
    }
}
