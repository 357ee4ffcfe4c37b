package io.peregrine.server.responses;

import io.netty.buffer.ByteBuf;
import io.peregrine.api.common.Usage;
import io.peregrine.api.responses.OutputItem;
import io.peregrine.api.responses.Response;
import io.peregrine.api.responses.ResponseStreamEvent;
import io.peregrine.api.responses.ResponseUsage;
import io.peregrine.engine.runtime.EngineEvent;
import io.peregrine.engine.runtime.FinishReason;
import io.peregrine.server.http.ApiException;
import io.peregrine.server.http.Exchange;
import io.peregrine.server.stream.GenerationCall;
import io.peregrine.server.metrics.ServerMetrics;
import java.util.ArrayList;
import java.util.List;

/**
 * A Responses request in flight: one choice, split by the engine's output parser, assembled into output items; streamed as named Responses events (an error after the start ends it with {@code response.failed}) or
 * answered as one response object. Admission, backpressure, keep-alive,
 * abort on disconnect and metrics are {@link GenerationCall}'s, as for chat.
 */
final class ResponsesCall extends GenerationCall {
    private final OutputAssembler output;
    private final ResponsesPlan plan;
    private final ResponseStore store;
    private Response result;
    private String finishReason;

    ResponsesCall(Exchange exchange, ResponsesPlan plan, int promptTokens, ResponseStore store, ServerMetrics metrics,
                  long arrivalNanos, long keepAliveNanos) {
        super(exchange, plan.chat().stream(), false, plan.response().id(), plan.chat().model(), 1, promptTokens,
                metrics, arrivalNanos, keepAliveNanos);
        this.plan = plan;
        this.store = store;
        this.output = new OutputAssembler(plan.response().id());
    }

    @Override
    protected List<?> opening() {
        Response r = plan.response();
        return List.of(output.lifecycle("response.created", r), output.lifecycle("response.in_progress", r));
    }

    @Override
    protected List<?> onTokens(EngineEvent.Tokens t) {
        return output.accept(t.output(), t.reasoningTokens());
    }

    @Override
    protected List<?> onFinished(EngineEvent.Finished f) {
        // Anything but a natural stop leaves the response incomplete, an abort (shutdown, a stalled reader) included.
        boolean cut = f.reason() != FinishReason.STOP;
        List<ResponseStreamEvent> out = new ArrayList<>(output.finish(cut ? "incomplete" : "completed"));
        List<OutputItem> items = output.items();
        boolean called = items.stream().anyMatch(i -> i instanceof OutputItem.FunctionCall);
        finishReason = f.reason() == FinishReason.STOP && called ? "tool_calls" : finishReason(f.reason());
        ResponseUsage usage = ResponseUsage.of(promptTokens, cachedTokens, completionTokens, output.reasoningTokens());
        Response.IncompleteDetails incomplete = !cut ? null : new Response.IncompleteDetails(switch (f.reason()) {
            case LENGTH -> "max_output_tokens";
            case TIMEOUT -> "timeout";
            case ABORT, STOP -> "abort";
        });
        result = plan.response().with(cut ? "incomplete" : "completed", items, usage, incomplete, null);
        if (plan.store() && f.reason() != FinishReason.ABORT) {
            store.put(new ResponseStore.Stored(result, plan.items()));
        }
        out.add(output.lifecycle(cut ? "response.incomplete" : "response.completed", result));
        return out;
    }

    @Override
    protected String finishReasonOf(int choice) {
        return finishReason;
    }

    @Override
    protected int reasoningTokens() {
        return output.reasoningTokens();
    }

    /** Not called: the usage travels in the response.completed event (includeUsage is off). */
    @Override
    protected Object usageChunk(Usage usage) {
        throw new IllegalStateException("the Responses API streams no usage chunk");
    }

    @Override
    protected Object fullResponse(Usage usage) {
        return result;
    }

    @Override
    protected ByteBuf sseEvent(Object chunk) {
        return Exchange.sseEvent(((ResponseStreamEvent) chunk).type(), exchange.toJson(chunk));
    }

    /** OpenAI's way: a {@code response.failed} event whose response carries the error and the finished items. */
    @Override
    protected ByteBuf streamError(ApiException e) {
        String code = e.code() != null ? e.code() : e.status().code() >= 500 ? "server_error" : "invalid_prompt";
        Response failed = plan.response().with("failed", output.items(),
                ResponseUsage.of(promptTokens, cachedTokens, completionTokens, output.reasoningTokens()), null,
                new Response.ResponseError(code, e.getMessage()));
        return sseEvent(output.lifecycle("response.failed", failed));
    }

    @Override
    protected boolean endsWithDone() {
        return false;
    }
}
