package io.peregrine.server.fakes;

import io.peregrine.server.chat.OutputParser;
import io.peregrine.server.chat.OutputSpec;
import io.peregrine.server.chat.ParsedDelta;
import io.peregrine.server.chat.ToolCallDelta;
import java.util.List;

/**
 * A stand-in for Kimi's output parser with simple whole-step markers: with thinking on, steps are reasoning
 * until a {@code </think>} step; a step {@code <call:NAME>} opens a tool call whose arguments are the following
 * steps up to {@code </call>}.
 */
public final class MarkerParser implements OutputParser {
    private boolean reasoning;
    private int callIndex = -1;
    private boolean inCall;
    private final int prior;

    public MarkerParser(OutputSpec spec) {
        this.reasoning = spec.thinking().enabled();
        this.prior = spec.priorToolCalls();
    }

    @Override
    public ParsedDelta accept(int[] tokenIds, String text) {
        if (reasoning) {
            if (text.equals("</think>")) {
                reasoning = false;
                return new ParsedDelta(null, null, List.of(), tokenIds.length);
            }
            return new ParsedDelta(text, null, List.of(), tokenIds.length);
        }
        if (text.startsWith("<call:")) {
            inCall = true;
            callIndex++;
            String name = text.substring(6, text.length() - 1);
            return new ParsedDelta(null, null,
                    List.of(new ToolCallDelta(callIndex, "functions." + name + ":" + (prior + callIndex), name, "")), 0);
        }
        if (text.equals("</call>")) {
            inCall = false;
            return ParsedDelta.EMPTY;
        }
        if (inCall) {
            return new ParsedDelta(null, null, List.of(new ToolCallDelta(callIndex, null, null, text)), 0);
        }
        return new ParsedDelta(null, text, List.of(), 0);
    }

    @Override
    public ParsedDelta finish() {
        return ParsedDelta.EMPTY;
    }
}
