package io.peregrine.server.anthropic;

import io.netty.buffer.ByteBuf;
import io.peregrine.api.anthropic.MessageResponse;
import io.peregrine.api.anthropic.MessageUsage;
import io.peregrine.api.anthropic.StreamEvent;
import io.peregrine.api.common.Usage;
import io.peregrine.engine.runtime.EngineEvent;
import io.peregrine.engine.runtime.FinishReason;
import io.peregrine.engine.runtime.StopReason;
import io.peregrine.server.http.ApiException;
import io.peregrine.server.http.Exchange;
import io.peregrine.server.stream.GenerationCall;
import io.peregrine.server.metrics.ServerMetrics;
import java.util.ArrayList;
import java.util.List;

/**
 * A Messages API reply in flight (one choice): the chat path's admission, backpressure, keep-alive, abort on
 * disconnect and metrics ({@link GenerationCall}), with Anthropic's reply shape and named SSE events.
 */
final class MessagesCall extends GenerationCall {
    private final MessagesPlan plan;
    private final BlockAssembler blocks;
    private int reasoningTokens;
    private String stopReason;
    private String stopSequence;
    private String finishReason;

    MessagesCall(Exchange exchange, MessagesPlan plan, String id, int promptTokens, ServerMetrics metrics,
                 long arrivalNanos, long keepAliveNanos) {
        super(exchange, plan.chat().stream(), false, id, plan.chat().model(), 1, promptTokens, metrics, arrivalNanos,
                keepAliveNanos);
        this.plan = plan;
        this.blocks = new BlockAssembler(exchange.mapper(), plan.chat().input().tools().stream()
                .map(t -> t.function().name()).collect(java.util.stream.Collectors.toSet()));
    }

    @Override
    protected List<?> opening() {
        return List.of(new StreamEvent.MessageStart(new MessageResponse(id, model, List.of(), null, null,
                usage(promptTokens, cachedTokens, 0))));
    }

    @Override
    protected List<?> onTokens(EngineEvent.Tokens t) {
        reasoningTokens += t.reasoningTokens();
        return blocks.accept(t.output());
    }

    @Override
    protected List<?> onFinished(EngineEvent.Finished f) {
        List<StreamEvent> out = new ArrayList<>(blocks.finish());
        if (f.reason() == FinishReason.STOP && f.stopReason() instanceof StopReason.StopString(String s)
                && plan.stopSequences().contains(s)) {
            stopReason = "stop_sequence";
            stopSequence = s;
            finishReason = "stop";
        } else if (f.reason() == FinishReason.STOP) {
            stopReason = blocks.hasToolUse() ? "tool_use" : "end_turn";
            finishReason = blocks.hasToolUse() ? "tool_calls" : "stop";
        } else {
            finishReason = finishReason(f.reason());
            // Anthropic has no word for a deadline; the reply was cut short, as by max_tokens. An abort never gets
            // here as a stop reason: it ends the reply with an error (abortedError).
            stopReason = f.reason() == FinishReason.LENGTH ? "max_tokens" : finishReason;
        }
        return out;
    }

    @Override
    protected String finishReasonOf(int choice) {
        return finishReason; // the metrics' finished_reason label, as chat reports it
    }

    @Override
    protected int reasoningTokens() {
        return reasoningTokens;
    }

    @Override
    protected List<?> closing(Usage u) {
        return List.of(new StreamEvent.MessageDelta(new StreamEvent.StopDelta(stopReason, stopSequence), usage(u)),
                new StreamEvent.MessageStop());
    }

    @Override
    protected Object usageChunk(Usage u) {
        return closing(u).getFirst();
    }

    @Override
    protected Object fullResponse(Usage u) {
        return new MessageResponse(id, model, blocks.blocks(), stopReason, stopSequence, usage(u));
    }

    @Override
    protected ByteBuf sseEvent(Object chunk) {
        return Exchange.sseEvent(((StreamEvent) chunk).type(), exchange.toJson(chunk));
    }

    /** Anthropic clients dispatch on the event name: an error mid-stream is {@code event: error}. */
    @Override
    protected ByteBuf streamError(ApiException e) {
        return Exchange.sseEvent("error", exchange.errorJson(e));
    }

    /**
     * "abort" is not one of Anthropic's stop reasons: an aborted reply (shutdown, a stalled reader) ends as Anthropic
     * ends a stream it cannot finish, with {@code event: error} ({@code overloaded_error}, which the SDKs retry), or
     * is a 503 when nothing was sent yet.
     */
    @Override
    protected ApiException abortedError() {
        return ApiException.unavailable("The request was aborted before it finished (the server is shutting down "
                + "or the reply could not be delivered); retry it", "aborted");
    }

    @Override
    protected ByteBuf keepAliveEvent() {
        return sseEvent(new StreamEvent.Ping());
    }

    @Override
    protected boolean endsWithDone() {
        return false;
    }

    private static MessageUsage usage(Usage u) {
        return usage(u.promptTokens(), u.promptTokensDetails().cachedTokens(), u.completionTokens());
    }

    /** Anthropic's input_tokens leave out what was read from the cache. */
    private static MessageUsage usage(int prompt, int cached, int output) {
        return new MessageUsage(prompt - cached, output, 0, cached);
    }
}
