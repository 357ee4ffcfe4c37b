package io.peregrine.server.completions;

import com.fasterxml.jackson.databind.JsonNode;
import io.peregrine.api.completions.CompletionRequest;
import io.peregrine.engine.runtime.GenerationRequest;
import io.peregrine.engine.sample.SamplingParams;
import io.peregrine.server.chat.ChatRequestMapper;
import io.peregrine.server.chat.LogprobsMapper;
import io.peregrine.server.chat.PlanBuilder;
import io.peregrine.server.http.ApiException;
import io.peregrine.server.http.ContextCheck;
import io.peregrine.server.http.Exchange;
import io.peregrine.server.http.JsonBodies;
import io.peregrine.server.http.UnsupportedFields;
import io.peregrine.server.sampling.SamplingInput;
import io.peregrine.server.sampling.SamplingResolver;
import io.peregrine.server.sampling.SamplingSettings;
import io.peregrine.server.serving.EndpointContext;
import io.peregrine.server.serving.ModelRuntime;

/**
 * {@code POST /v1/completions}: a raw prompt (text, or token ids) with no chat template. Sampling defaults are
 * the instant-mode ones, since no thinking switch applies to raw text.
 */
public final class CompletionsHandler {
    static final int DEFAULT_MAX_TOKENS = 16;
    private final EndpointContext endpoint;
    private final SamplingResolver sampling;

    public CompletionsHandler(EndpointContext endpoint, SamplingResolver sampling) {
        this.endpoint = endpoint;
        this.sampling = sampling;
    }

    public void handle(Exchange exchange, byte[] body, long arrivalNanos) throws ApiException {
        ModelRuntime rt = endpoint.serving();
        JsonBodies.Parsed<CompletionRequest> parsed = endpoint.read(body, CompletionRequest.class);
        CompletionRequest r = parsed.value();
        String model = PlanBuilder.resolveModel(r.model(), rt.servedModelNames());
        UnsupportedFields.checkCompletions(parsed.tree());
        int[] prompt = promptIds(r.prompt(), r.addSpecialTokens() == null || r.addSpecialTokens(), rt);
        boolean stream = Boolean.TRUE.equals(r.stream());
        boolean includeUsage = ChatRequestMapper.includeUsage(r.streamOptions(), stream);
        if (r.bestOf() != null && r.bestOf() < 1) {
            throw ApiException.invalid("best_of must be at least 1, got " + r.bestOf(), "best_of");
        }
        int logprobs = r.logprobs() == null ? -1 : r.logprobs();
        if (r.logprobs() != null && (logprobs < 0 || logprobs > 20)) {
            throw ApiException.invalid("logprobs must be between 0 and 20", "logprobs");
        }
        if (r.maxTokens() != null && r.maxTokens() < 1) {
            throw ApiException.invalid("max_tokens must be at least 1, got " + r.maxTokens(), "max_tokens");
        }
        SamplingSettings settings = sampling.resolve(new SamplingInput(r.temperature(), r.topP(), r.topK(), r.minP(),
                r.presencePenalty(), r.frequencyPenalty(), r.repetitionPenalty(), r.seed(),
                SamplingResolver.stopStrings(r.stop()), r.stopTokenIds(), r.ignoreEos(), r.n(), logprobs), false);
        SamplingResolver.requireStopIdsInVocabulary(r.stopTokenIds(), rt.codec().vocabSize());
        int maxModelLen = rt.engine().maxModelLen();
        // OpenAI's legacy default (vLLM's too), within what the context has left; chat keeps the whole remainder.
        Integer requested = r.maxTokens() != null ? r.maxTokens()
                : Integer.valueOf(Math.max(1, Math.min(DEFAULT_MAX_TOKENS, maxModelLen - prompt.length)));
        int maxTokens = ContextCheck.maxTokens(requested, prompt.length, maxModelLen, "max_tokens");
        SamplingParams params = settings.forMaxTokens(maxTokens);
        String id = EndpointContext.newId("cmpl-");
        CompletionCall call = new CompletionCall(exchange, stream, includeUsage, id, model, params.n(), prompt.length,
                logprobs >= 0, new LogprobsMapper(rt.codec()), endpoint.metrics(), arrivalNanos,
                endpoint.keepAliveNanos());
        call.submit(rt.engine(), new GenerationRequest(id, prompt, params, null));
    }

    /** A string, an array of token ids, or a one-element array holding either. */
    private static int[] promptIds(JsonNode prompt, boolean addSpecialTokens, ModelRuntime rt) throws ApiException {
        if (prompt == null || prompt.isNull()) {
            throw ApiException.invalid("'prompt' is required", "prompt");
        }
        if (prompt.isArray() && prompt.size() == 1 && (prompt.get(0).isTextual() || prompt.get(0).isArray())) {
            prompt = prompt.get(0);
        }
        int[] ids;
        if (prompt.isTextual()) {
            ids = rt.codec().encode(prompt.textValue(), addSpecialTokens);
        } else if (prompt.isArray() && !prompt.isEmpty() && prompt.get(0).isIntegralNumber()) {
            ids = new int[prompt.size()];
            int vocab = rt.codec().vocabSize();
            for (int i = 0; i < ids.length; i++) {
                JsonNode t = prompt.get(i);
                if (!t.isIntegralNumber() || !t.canConvertToInt() || t.intValue() < 0 || t.intValue() >= vocab) {
                    throw ApiException.invalid("prompt[" + i + "] must be a token id in [0, " + vocab + ")",
                            "prompt[" + i + "]");
                }
                ids[i] = t.intValue();
            }
        } else if (prompt.isArray() && prompt.size() > 1) {
            throw ApiException.unsupported("batched prompts (several prompts in one request) are not supported; "
                    + "send one request per prompt", "prompt");
        } else {
            throw ApiException.invalid("'prompt' must be a string or an array of token ids", "prompt");
        }
        if (ids.length == 0) {
            throw ApiException.invalid("'prompt' must not be empty", "prompt");
        }
        return ids;
    }
}
