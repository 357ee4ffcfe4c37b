package io.peregrine.server.completions;

import io.peregrine.api.common.Usage;
import io.peregrine.api.completions.Completion;
import io.peregrine.api.completions.CompletionChoice;
import io.peregrine.api.completions.CompletionLogprobs;
import io.peregrine.engine.runtime.EngineEvent;
import io.peregrine.engine.sample.TokenLogprob;
import io.peregrine.server.chat.LogprobsMapper;
import io.peregrine.server.http.Exchange;
import io.peregrine.server.stream.GenerationCall;
import io.peregrine.server.metrics.ServerMetrics;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A legacy text completion in flight: raw text, no parsing. */
final class CompletionCall extends GenerationCall {

    private static final class ChoiceState {
        final StringBuilder text = new StringBuilder();
        final List<String> tokens = new ArrayList<>();
        final List<Double> tokenLogprobs = new ArrayList<>();
        final List<Map<String, Double>> top = new ArrayList<>();
        final List<Integer> offsets = new ArrayList<>();
        String finishReason;
    }

    private final ChoiceState[] states;
    private final LogprobsMapper logprobs;
    private final boolean wantLogprobs;

    CompletionCall(Exchange exchange, boolean stream, boolean includeUsage, String id, String model, int n,
                   int promptTokens, boolean wantLogprobs, LogprobsMapper logprobs, ServerMetrics metrics,
                   long arrivalNanos, long keepAliveNanos) {
        super(exchange, stream, includeUsage, id, model, n, promptTokens, metrics, arrivalNanos, keepAliveNanos);
        this.states = new ChoiceState[n];
        for (int i = 0; i < n; i++) {
            states[i] = new ChoiceState();
        }
        this.logprobs = logprobs;
        this.wantLogprobs = wantLogprobs;
    }

    @Override
    protected List<?> opening() {
        return List.of();
    }

    @Override
    protected List<?> onTokens(EngineEvent.Tokens t) {
        ChoiceState s = states[t.choice()];
        CompletionLogprobs lp = null;
        if (wantLogprobs) {
            lp = logprobs(t.logprobs(), s.text.length());
            s.tokens.addAll(lp.tokens());
            s.tokenLogprobs.addAll(lp.tokenLogprobs());
            s.top.addAll(lp.topLogprobs());
            s.offsets.addAll(lp.textOffset());
        }
        s.text.append(t.text());
        if (t.text().isEmpty() && lp == null) {
            return List.of();
        }
        return List.of(chunk(t.choice(), t.text(), lp, null));
    }

    private CompletionLogprobs logprobs(List<TokenLogprob> lps, int offset) {
        List<String> tokens = new ArrayList<>();
        List<Double> values = new ArrayList<>();
        List<Map<String, Double>> top = new ArrayList<>();
        List<Integer> offsets = new ArrayList<>();
        for (TokenLogprob lp : lps) {
            String tok = logprobs.token(lp.tokenId());
            tokens.add(tok);
            values.add((double) lp.logprob());
            Map<String, Double> alts = new LinkedHashMap<>();
            for (TokenLogprob.Alternative a : lp.top()) {
                alts.putIfAbsent(logprobs.token(a.tokenId()), (double) a.logprob());
            }
            top.add(alts);
            offsets.add(offset);
            offset += tok.length();
        }
        return new CompletionLogprobs(tokens, values, top, offsets);
    }

    @Override
    protected List<?> onFinished(EngineEvent.Finished f) {
        states[f.choice()].finishReason = finishReason(f.reason());
        return List.of(chunk(f.choice(), "", null, states[f.choice()].finishReason));
    }

    @Override
    protected String finishReasonOf(int choice) {
        return states[choice].finishReason;
    }

    private Completion chunk(int choice, String text, CompletionLogprobs lp, String finishReason) {
        return new Completion(id, created, model, List.of(new CompletionChoice(choice, text, lp, finishReason)), null);
    }

    @Override
    protected int reasoningTokens() {
        return 0;
    }

    @Override
    protected Object usageChunk(Usage usage) {
        return new Completion(id, created, model, List.of(), usage);
    }

    @Override
    protected Object fullResponse(Usage usage) {
        List<CompletionChoice> choices = new ArrayList<>(states.length);
        for (int i = 0; i < states.length; i++) {
            ChoiceState s = states[i];
            CompletionLogprobs lp = wantLogprobs ? new CompletionLogprobs(s.tokens, s.tokenLogprobs, s.top, s.offsets) : null;
            choices.add(new CompletionChoice(i, s.text.toString(), lp, s.finishReason));
        }
        return new Completion(id, created, model, choices, usage);
    }
}
