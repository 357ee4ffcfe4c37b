package io.peregrine.engine.parse;

import java.util.ArrayList;
import java.util.List;

/**
 * Folds deltas into a message. The parser builds its final message with this too, so a client that applies the
 * streamed deltas ends with exactly the non-streaming message.
 */
public final class MessageAccumulator {
    private final StringBuilder reasoning = new StringBuilder();
    private final StringBuilder content = new StringBuilder();
    private final List<String[]> calls = new ArrayList<>(); // id, name
    private final List<StringBuilder> args = new ArrayList<>();
    private boolean sawReasoning;

    public void apply(OutputDelta d) {
        switch (d) {
            case OutputDelta.Reasoning r -> {
                reasoning.append(r.text());
                sawReasoning = true;
            }
            case OutputDelta.Content c -> content.append(c.text());
            case OutputDelta.ToolCallBegin b -> {
                if (b.index() != calls.size()) {
                    throw new IllegalStateException("tool call " + b.index() + " begins after " + calls.size());
                }
                calls.add(new String[] {b.id(), b.name()});
                args.add(new StringBuilder());
            }
            case OutputDelta.ToolCallArguments a -> args.get(a.index()).append(a.fragment());
        }
    }

    public void applyAll(List<OutputDelta> deltas) {
        for (OutputDelta d : deltas) {
            apply(d);
        }
    }

    /** @param incompleteCall index of a call cut before its end marker, or -1 */
    public ParsedMessage build(OutputFinish finish, boolean truncatedInReasoning, int incompleteCall) {
        List<ParsedToolCall> out = new ArrayList<>(calls.size());
        for (int i = 0; i < calls.size(); i++) {
            out.add(new ParsedToolCall(i, calls.get(i)[0], calls.get(i)[1], args.get(i).toString(),
                    i != incompleteCall));
        }
        return new ParsedMessage(sawReasoning && !reasoning.isEmpty() ? reasoning.toString() : null,
                content.isEmpty() ? null : content.toString(), out, finish, truncatedInReasoning);
    }
}
