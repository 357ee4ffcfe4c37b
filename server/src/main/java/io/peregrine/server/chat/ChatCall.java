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
import io.peregrine.engine.parse.MessageAccumulator;
import io.peregrine.engine.parse.OutputDelta;
import io.peregrine.engine.parse.OutputFinish;
import io.peregrine.engine.parse.ParsedMessage;
import io.peregrine.engine.parse.ParsedToolCall;
import io.peregrine.engine.runtime.EngineEvent;
import io.peregrine.engine.runtime.FinishReason;
import io.peregrine.server.http.Exchange;
import io.peregrine.server.stream.GenerationCall;
import io.peregrine.server.metrics.ServerMetrics;
import java.util.ArrayList;
import java.util.List;

/**
 * A chat completion in flight. The engine has split each choice's output into reasoning, content and tool-call
 * deltas; each event's deltas become one chunk, and the engine's {@link MessageAccumulator} folds them into the
 * choice's message for the non-streamed body, so both agree by construction.
 */
public final class ChatCall extends GenerationCall {

    /** One choice's message so far, its logprobs and how it ended. */
    private static final class ChoiceState {
        final MessageAccumulator message = new MessageAccumulator();
        final List<ChatLogprobs.Entry> logprobs = new ArrayList<>();
        int reasoningTokens;
        String finishReason;
    }

    private final ChoiceState[] states;
    private final ReasoningField reasoningField;
    private final LogprobsMapper logprobs;
    private final boolean wantLogprobs;

    public ChatCall(Exchange exchange, ChatPlan plan, String id, int promptTokens, ReasoningField reasoningField,
                    LogprobsMapper logprobs, ServerMetrics metrics, long arrivalNanos, int n, long keepAliveNanos) {
        super(exchange, plan.stream(), plan.includeUsage(), id, plan.model(), n, promptTokens, metrics, arrivalNanos,
                keepAliveNanos);
        this.states = new ChoiceState[n];
        for (int i = 0; i < n; i++) {
            states[i] = new ChoiceState();
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
        s.reasoningTokens += t.reasoningTokens();
        s.message.applyAll(t.output());
        List<ChatLogprobs.Entry> lp = wantLogprobs ? logprobs.entries(t.logprobs()) : List.of();
        s.logprobs.addAll(lp);
        if (!stream) {
            return List.of();
        }
        Delta delta = delta(t.output());
        if (delta == null && lp.isEmpty()) {
            return List.of();
        }
        return List.of(chunk(t.choice(), delta == null ? Delta.EMPTY : delta, lp.isEmpty() ? null : new ChatLogprobs(lp),
                null));
    }

    @Override
    protected List<?> onFinished(EngineEvent.Finished f) {
        ChoiceState s = states[f.choice()];
        s.finishReason = f.reason() == FinishReason.STOP && !message(s).toolCalls().isEmpty()
                ? "tool_calls" : finishReason(f.reason());
        return List.of(chunk(f.choice(), Delta.EMPTY, null, s.finishReason));
    }

    @Override
    protected String finishReasonOf(int choice) {
        return states[choice].finishReason;
    }

    /**
     * One event's deltas as one chunk's delta (null when they show nothing): its reasoning and content, and each
     * tool-call piece, a call's first piece with its id, type and name.
     */
    private Delta delta(List<OutputDelta> deltas) {
        StringBuilder reasoning = new StringBuilder();
        StringBuilder content = new StringBuilder();
        List<CallPiece> pieces = new ArrayList<>();
        for (OutputDelta d : deltas) {
            switch (d) {
                case OutputDelta.Reasoning r -> reasoning.append(r.text());
                case OutputDelta.Content c -> content.append(c.text());
                case OutputDelta.ToolCallBegin b -> pieces.add(new CallPiece(b.index(), b.id(), b.name(), new StringBuilder()));
                case OutputDelta.ToolCallArguments a -> {
                    if (pieces.isEmpty() || pieces.getLast().index() != a.index()) {
                        pieces.add(new CallPiece(a.index(), null, null, new StringBuilder()));
                    }
                    pieces.getLast().arguments().append(a.fragment());
                }
            }
        }
        if (reasoning.isEmpty() && content.isEmpty() && pieces.isEmpty()) {
            return null;
        }
        List<ToolCall> calls = null;
        if (!pieces.isEmpty()) {
            calls = new ArrayList<>(pieces.size());
            for (CallPiece p : pieces) {
                calls.add(new ToolCall(p.index(), p.id(), p.id() != null ? "function" : null,
                        new FunctionCall(p.name(), p.arguments().toString())));
            }
        }
        String r = reasoning.isEmpty() ? null : reasoning.toString();
        return new Delta(null, content.isEmpty() ? null : content.toString(), reasoningField.contentField(r),
                reasoningField.reasoningField(r), calls);
    }

    /** A tool call's piece in one chunk: the first carries the call's id and name. */
    private record CallPiece(int index, String id, String name, StringBuilder arguments) {}

    private static ParsedMessage message(ChoiceState s) {
        return s.message.build(OutputFinish.STOP, false, -1);
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
            ParsedMessage m = message(s);
            List<ToolCall> calls = null;
            if (!m.toolCalls().isEmpty()) {
                calls = new ArrayList<>();
                for (ParsedToolCall c : m.toolCalls()) {
                    calls.add(new ToolCall(null, c.id(), "function", new FunctionCall(c.name(), c.arguments())));
                }
            }
            // no content beside tool calls is null; a plain answer that is empty is ""
            String content = m.content() == null && calls == null ? "" : m.content();
            ResponseMessage msg = new ResponseMessage("assistant", content, reasoningField.contentField(m.reasoning()),
                    reasoningField.reasoningField(m.reasoning()), calls);
            choices.add(new ChatChoice(i, msg, s.logprobs.isEmpty() && !wantLogprobs ? null
                    : new ChatLogprobs(s.logprobs), s.finishReason));
        }
        return new ChatCompletion(id, created, model, choices, usage);
    }
}
