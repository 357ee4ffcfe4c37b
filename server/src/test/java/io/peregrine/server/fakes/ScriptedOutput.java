package io.peregrine.server.fakes;

import io.peregrine.engine.parse.ChoiceParser;
import io.peregrine.engine.parse.OutputDelta;
import io.peregrine.engine.runtime.EngineEvent;
import io.peregrine.engine.runtime.FinishReason;
import io.peregrine.engine.runtime.GenerationRequest;
import io.peregrine.engine.sample.TokenLogprob;
import java.util.List;

/**
 * What a fake engine emits for one choice's scripted steps, as the real engine emits them: each step is one token
 * whose text is released at once and split by the request's parser (none: raw text).
 */
public final class ScriptedOutput {
    private final ChoiceParser parser;

    public ScriptedOutput(GenerationRequest request) {
        this.parser = request.parser() == null ? null : request.parser().forChoice();
    }

    /** One step: a token and its text. */
    public EngineEvent.Tokens step(int choice, int id, String text, List<TokenLogprob> logprobs) {
        if (parser == null) {
            return new EngineEvent.Tokens(choice, new int[] {id}, text, logprobs);
        }
        int reasoning = parser.inReasoning() ? 1 : 0;
        return new EngineEvent.Tokens(choice, new int[] {id}, text, logprobs, null, parser.push(id, text), reasoning);
    }

    /** The choice's last deltas before its Finished, or null when the parser has none. */
    public EngineEvent.Tokens finish(int choice, FinishReason reason) {
        if (parser == null) {
            return null;
        }
        List<OutputDelta> last = parser.finish("", reason.outputFinish());
        return last.isEmpty() ? null : new EngineEvent.Tokens(choice, new int[0], "", List.of(), new int[0], last, 0);
    }

    /** A step of answer text, as the engine emits it for a request parsed into content. */
    public static EngineEvent.Tokens content(int choice, int id, String text) {
        return new EngineEvent.Tokens(choice, new int[] {id}, text, List.of(), null,
                List.of(new OutputDelta.Content(text)), 0);
    }
}
