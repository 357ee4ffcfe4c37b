package io.peregrine.server.fakes;

import io.peregrine.engine.parse.ChoiceParser;
import io.peregrine.engine.parse.OutputDelta;
import io.peregrine.engine.parse.OutputFinish;
import io.peregrine.server.prompt.OutputSpec;
import java.util.List;

/**
 * A stand-in for Kimi's output parser with simple whole-step markers, run by the fake engines as the real engine
 * runs Kimi's: with thinking on, steps are reasoning until a {@code </think>} step; a step {@code <call:NAME>} opens
 * a tool call whose arguments are the following steps up to {@code </call>}.
 */
public final class MarkerParser implements ChoiceParser {
    private boolean reasoning;
    private int callIndex = -1;
    private boolean inCall;
    private final int prior;

    public MarkerParser(OutputSpec spec) {
        this.reasoning = spec.thinking().enabled();
        this.prior = spec.priorToolCalls();
    }

    @Override
    public List<OutputDelta> push(int id, String text) {
        if (reasoning) {
            if (text.equals("</think>")) {
                reasoning = false;
                return List.of();
            }
            return List.of(new OutputDelta.Reasoning(text));
        }
        if (text.startsWith("<call:")) {
            inCall = true;
            callIndex++;
            String name = text.substring(6, text.length() - 1);
            return List.of(new OutputDelta.ToolCallBegin(callIndex, "functions." + name + ":" + (prior + callIndex), name));
        }
        if (text.equals("</call>")) {
            inCall = false;
            return List.of();
        }
        if (inCall) {
            return List.of(new OutputDelta.ToolCallArguments(callIndex, text));
        }
        return List.of(new OutputDelta.Content(text));
    }

    @Override
    public boolean inReasoning() {
        return reasoning;
    }

    @Override
    public List<OutputDelta> finish(String tail, OutputFinish reason) {
        return List.of();
    }
}
