package io.peregrine.server.responses;

import io.peregrine.api.responses.OutputItem;
import io.peregrine.api.responses.Response;
import io.peregrine.api.responses.ResponseStreamEvent;
import io.peregrine.api.responses.ResponseStreamEvent.ArgumentsDelta;
import io.peregrine.api.responses.ResponseStreamEvent.ArgumentsDone;
import io.peregrine.api.responses.ResponseStreamEvent.ContentPart;
import io.peregrine.api.responses.ResponseStreamEvent.Item;
import io.peregrine.api.responses.ResponseStreamEvent.Lifecycle;
import io.peregrine.api.responses.ResponseStreamEvent.ReasoningDelta;
import io.peregrine.api.responses.ResponseStreamEvent.ReasoningDone;
import io.peregrine.api.responses.ResponseStreamEvent.TextDelta;
import io.peregrine.api.responses.ResponseStreamEvent.TextDone;
import io.peregrine.engine.parse.OutputDelta;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns one choice's parsed output (the engine's deltas: reasoning, content, tool calls, in the order the model wrote them) into
 * Responses output items and the stream events that build them: each run of one kind is an item, opened with
 * {@code output_item.added} and closed with its {@code .done} events when the next kind starts or generation ends.
 * The same object serves streaming (the events) and non-streaming (the items), so both give the same output.
 * Whitespace-only text between items (the newline after {@code </think>} before a tool call) is not an item of its
 * own: it is held, and starts the message only if text follows. Not thread-safe: fed in order from one event loop.
 */
final class OutputAssembler {
    private enum Kind { REASONING, MESSAGE, CALL }

    private final String suffix;
    private final List<OutputItem> items = new ArrayList<>();
    private int sequence;
    private int reasoningTokens;

    private Kind open;
    private String openId;
    private final StringBuilder text = new StringBuilder();
    private final StringBuilder heldWhitespace = new StringBuilder();
    private int openCall = -1;
    private String callId;
    private String callName;

    /** @param responseId the response's id; item ids are derived from it */
    OutputAssembler(String responseId) {
        this.suffix = responseId.startsWith("resp_") ? responseId.substring(5) : responseId;
    }

    List<OutputItem> items() {
        return List.copyOf(items);
    }

    int reasoningTokens() {
        return reasoningTokens;
    }

    /** A lifecycle event carrying the response (created, in_progress, completed, incomplete, failed). */
    ResponseStreamEvent lifecycle(String type, Response response) {
        return new Lifecycle(type, sequence++, response);
    }

    /**
     * What one engine step adds, in the order the model wrote it; the returned events are for streaming.
     *
     * @param reasoningTokens how many of the step's tokens were reasoning (for usage)
     */
    List<ResponseStreamEvent> accept(List<OutputDelta> deltas, int reasoningTokens) {
        this.reasoningTokens += reasoningTokens;
        List<ResponseStreamEvent> out = new ArrayList<>();
        for (OutputDelta d : deltas) {
            switch (d) {
                case OutputDelta.Reasoning r when !r.text().isEmpty() -> {
                    if (open != Kind.REASONING) {
                        openReasoning(out);
                    }
                    text.append(r.text());
                    out.add(new ReasoningDelta("response.reasoning_text.delta", sequence++, openId, index(), 0,
                            r.text()));
                }
                case OutputDelta.Content c when !c.text().isEmpty() -> content(c.text(), out);
                case OutputDelta.ToolCallBegin b -> {
                    if (open != Kind.CALL || b.index() != openCall) {
                        openCall(b.index(), b.id(), b.name(), out);
                    }
                }
                case OutputDelta.ToolCallArguments a -> {
                    if (open != Kind.CALL || a.index() != openCall) {
                        openCall(a.index(), null, null, out);
                    }
                    if (!a.fragment().isEmpty()) {
                        text.append(a.fragment());
                        out.add(new ArgumentsDelta("response.function_call_arguments.delta", sequence++, openId,
                                index(), a.fragment()));
                    }
                }
                default -> { } // empty text
            }
        }
        return out;
    }

    private void content(String s, List<ResponseStreamEvent> out) {
        if (open != Kind.MESSAGE) {
            if (s.isBlank()) {
                heldWhitespace.append(s); // a message only if text follows
                return;
            }
            String held = heldWhitespace.toString();
            openMessage(out);
            s = held + s;
        }
        text.append(s);
        out.add(new TextDelta("response.output_text.delta", sequence++, openId, index(), 0, s, List.of()));
    }

    /** Generation ended: closes the open item with {@code status} (completed, or incomplete when cut short). */
    List<ResponseStreamEvent> finish(String status) {
        List<ResponseStreamEvent> out = new ArrayList<>();
        close(status, out);
        return out;
    }

    private int index() {
        return items.size();
    }

    /** Closes the open item and starts one of {@code kind}; returns its output index. */
    private int begin(Kind kind, String idPrefix, List<ResponseStreamEvent> out) {
        close("completed", out);
        heldWhitespace.setLength(0); // a message has taken it; before reasoning or a call it belongs to neither
        open = kind;
        text.setLength(0);
        openId = idPrefix + suffix + "_" + index();
        return index();
    }

    private void openReasoning(List<ResponseStreamEvent> out) {
        int idx = begin(Kind.REASONING, "rs_", out);
        out.add(new Item("response.output_item.added", sequence++, idx,
                new OutputItem.Reasoning(openId, List.of(), "in_progress")));
        out.add(new ContentPart("response.content_part.added", sequence++, openId, idx, 0,
                new OutputItem.ReasoningText("")));
    }

    private void openMessage(List<ResponseStreamEvent> out) {
        int idx = begin(Kind.MESSAGE, "msg_", out);
        out.add(new Item("response.output_item.added", sequence++, idx,
                new OutputItem.Message(openId, "in_progress", List.of())));
        out.add(new ContentPart("response.content_part.added", sequence++, openId, idx, 0,
                new OutputItem.OutputText("")));
    }

    /** A call's first piece carries its id (Kimi's {@code functions.NAME:IDX}) and name. */
    private void openCall(int index, String id, String name, List<ResponseStreamEvent> out) {
        int idx = begin(Kind.CALL, "fc_", out);
        openCall = index;
        callId = id;
        callName = name;
        out.add(new Item("response.output_item.added", sequence++, idx,
                new OutputItem.FunctionCall(openId, callId, callName, "", "in_progress")));
    }

    private void close(String status, List<ResponseStreamEvent> out) {
        if (open == null) {
            return;
        }
        int idx = index();
        String t = text.toString();
        OutputItem item = switch (open) {
            case REASONING -> {
                OutputItem.ReasoningText part = new OutputItem.ReasoningText(t);
                out.add(new ReasoningDone("response.reasoning_text.done", sequence++, openId, idx, 0, t));
                out.add(new ContentPart("response.content_part.done", sequence++, openId, idx, 0, part));
                yield new OutputItem.Reasoning(openId, List.of(part), status);
            }
            case MESSAGE -> {
                OutputItem.OutputText part = new OutputItem.OutputText(t);
                out.add(new TextDone("response.output_text.done", sequence++, openId, idx, 0, t, List.of()));
                out.add(new ContentPart("response.content_part.done", sequence++, openId, idx, 0, part));
                yield new OutputItem.Message(openId, status, List.of(part));
            }
            case CALL -> {
                out.add(new ArgumentsDone("response.function_call_arguments.done", sequence++, openId, idx, callName, t));
                yield new OutputItem.FunctionCall(openId, callId, callName, t, status);
            }
        };
        out.add(new Item("response.output_item.done", sequence++, idx, item));
        items.add(item);
        open = null;
        openCall = -1;
        text.setLength(0);
    }
}
