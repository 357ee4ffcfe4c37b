package io.peregrine.server.chat;

import io.peregrine.api.chat.ChatChoice;
import io.peregrine.api.chat.ChatCompletion;
import io.peregrine.api.chat.ChatCompletionChunk;
import io.peregrine.api.chat.ChatLogprobs;
import io.peregrine.api.chat.ChunkChoice;
import io.peregrine.api.chat.Delta;
import io.peregrine.api.chat.FunctionCall;
import io.peregrine.api.chat.ResponseMessage;
import io.peregrine.api.chat.ToolCall;
import io.peregrine.api.common.Usage;
import io.peregrine.engine.runtime.EngineEvent;
import io.peregrine.engine.runtime.FinishReason;
import io.peregrine.server.http.Exchange;
import io.peregrine.server.http.GenerationCall;
import io.peregrine.server.metrics.ServerMetrics;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** A chat completion in flight: each choice's tokens go through its own {@link OutputParser}. */
public final class ChatCall extends GenerationCall {

    /** One choice's parser and what it has produced so far (for the non-streamed body). */
    private static final class ChoiceState {
        final OutputParser parser;
        final StringBuilder reasoning = new StringBuilder();
        final StringBuilder content = new StringBuilder();
        final Map<Integer, String[]> toolCalls = new TreeMap<>(); // index -> {id, name, arguments}
        final List<ChatLogprobs.Entry> logprobs = new ArrayList<>();
        int reasoningTokens;
        String finishReason;

        ChoiceState(OutputParser parser) {
            this.parser = parser;
        }
    }

    private final ChoiceState[] states;
    private final ReasoningField reasoningField;
    private final LogprobsMapper logprobs;
    private final boolean wantLogprobs;

    public ChatCall(Exchange exchange, ChatPlan plan, String id, int promptTokens, OutputParserFactory parsers,
                    ReasoningField reasoningField, LogprobsMapper logprobs, ServerMetrics metrics, long arrivalNanos,
                    int n, long keepAliveNanos) {
        super(exchange, plan.stream(), plan.includeUsage(), id, plan.model(), n, promptTokens, metrics, arrivalNanos,
                keepAliveNanos);
        this.states = new ChoiceState[n];
        for (int i = 0; i < n; i++) {
            states[i] = new ChoiceState(parsers.create(plan.output()));
        }
        this.reasoningField = reasoningField;
        this.logprobs = logprobs;
        this.wantLogprobs = plan.topLogprobs() >= 0;
    }

    @Override
    protected List<?> opening() {
        List<ChatCompletionChunk> out = new ArrayList<>(states.length);
        for (int i = 0; i < states.length; i++) {
            out.add(chunk(i, new Delta("assistant", "", null, null, null), null, null));
        }
        return out;
    }

    @Override
    protected List<?> onTokens(EngineEvent.Tokens t) {
        ChoiceState s = states[t.choice()];
        ParsedDelta d = s.parser.accept(t.tokenIds(), t.text());
        List<ChatLogprobs.Entry> lp = wantLogprobs ? logprobs.entries(t.logprobs()) : List.of();
        s.logprobs.addAll(lp);
        return apply(t.choice(), s, d, lp);
    }

    @Override
    protected List<?> onFinished(EngineEvent.Finished f) {
        ChoiceState s = states[f.choice()];
        List<ChatCompletionChunk> out = new ArrayList<>(apply(f.choice(), s, s.parser.finish(), List.of()));
        s.finishReason = f.reason() == FinishReason.STOP && !s.toolCalls.isEmpty()
                ? "tool_calls" : finishReason(f.reason());
        out.add(chunk(f.choice(), Delta.EMPTY, null, s.finishReason));
        return out;
    }

    @Override
    protected String finishReasonOf(int choice) {
        return states[choice].finishReason;
    }

    private List<ChatCompletionChunk> apply(int choice, ChoiceState s, ParsedDelta d, List<ChatLogprobs.Entry> lp) {
        s.reasoningTokens += d.reasoningTokens();
        if (d.reasoning() != null) {
            s.reasoning.append(d.reasoning());
        }
        if (d.content() != null) {
            s.content.append(d.content());
        }
        List<ToolCall> calls = null;
        if (!d.toolCalls().isEmpty()) {
            calls = new ArrayList<>(d.toolCalls().size());
            for (ToolCallDelta c : d.toolCalls()) {
                String[] acc = s.toolCalls.computeIfAbsent(c.index(), k -> new String[] {null, null, ""});
                if (c.id() != null) {
                    acc[0] = c.id();
                }
                if (c.name() != null) {
                    acc[1] = c.name();
                }
                String args = c.arguments() == null ? "" : c.arguments();
                acc[2] = acc[2] + args;
                boolean first = c.id() != null || c.name() != null;
                calls.add(new ToolCall(c.index(), c.id(), first ? "function" : null, new FunctionCall(c.name(), args)));
            }
        }
        if (!stream || (d.isEmpty() && lp.isEmpty())) {
            return List.of();
        }
        String reasoning = empty(d.reasoning()) ? null : d.reasoning();
        String content = empty(d.content()) ? null : d.content();
        Delta delta = new Delta(null, content, reasoningField.contentField(reasoning),
                reasoningField.reasoningField(reasoning), calls);
        return List.of(chunk(choice, delta, lp.isEmpty() ? null : new ChatLogprobs(lp), null));
    }

    private static boolean empty(String s) {
        return s == null || s.isEmpty();
    }

    private ChatCompletionChunk chunk(int choice, Delta delta, ChatLogprobs lp, String finishReason) {
        return new ChatCompletionChunk(id, created, model, List.of(new ChunkChoice(choice, delta, lp, finishReason)), null);
    }

    @Override
    protected int reasoningTokens() {
        int sum = 0;
        for (ChoiceState s : states) {
            sum += s.reasoningTokens;
        }
        return sum;
    }

    @Override
    protected Object usageChunk(Usage usage) {
        return new ChatCompletionChunk(id, created, model, List.of(), usage);
    }

    @Override
    protected Object fullResponse(Usage usage) {
        List<ChatChoice> choices = new ArrayList<>(states.length);
        for (int i = 0; i < states.length; i++) {
            ChoiceState s = states[i];
            List<ToolCall> calls = null;
            if (!s.toolCalls.isEmpty()) {
                calls = new ArrayList<>();
                for (Map.Entry<Integer, String[]> e : s.toolCalls.entrySet()) {
                    String[] c = e.getValue();
                    calls.add(new ToolCall(null, c[0], "function", new FunctionCall(c[1], c[2])));
                }
            }
            String reasoning = s.reasoning.isEmpty() ? null : s.reasoning.toString();
            String content = s.content.isEmpty() && calls != null ? null : s.content.toString();
            ResponseMessage msg = new ResponseMessage("assistant", content, reasoningField.contentField(reasoning),
                    reasoningField.reasoningField(reasoning), calls);
            choices.add(new ChatChoice(i, msg, s.logprobs.isEmpty() && !wantLogprobs ? null
                    : new ChatLogprobs(s.logprobs), s.finishReason));
        }
        return new ChatCompletion(id, created, model, choices, usage);
    }
}
