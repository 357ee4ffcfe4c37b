package io.peregrine.server.wiring;

import io.peregrine.engine.parse.MarkerIds;
import io.peregrine.engine.parse.OutputDelta;
import io.peregrine.engine.runtime.FinishReason;
import io.peregrine.engine.tokenizer.KimiTokenizer;
import io.peregrine.server.chat.OutputParser;
import io.peregrine.server.chat.OutputParserFactory;
import io.peregrine.server.chat.OutputSpec;
import io.peregrine.server.chat.ParsedDelta;
import io.peregrine.server.chat.ToolCallDelta;
import java.util.ArrayList;
import java.util.List;

/**
 * The engine's token-driven Kimi output parser behind the server's per-choice parser interface. The parser
 * works on token ids (markers are single special tokens), so the engine's text is not needed here.
 */
public final class KimiOutputParsers implements OutputParserFactory {
    private final KimiTokenizer tokenizer;
    private final MarkerIds markers;

    public KimiOutputParsers(KimiTokenizer tokenizer) {
        this.tokenizer = tokenizer;
        this.markers = MarkerIds.from(tokenizer);
    }

    @Override
    public OutputParser create(OutputSpec spec) {
        var parser = new io.peregrine.engine.parse.OutputParser(tokenizer, markers, spec.thinking().enabled());
        return new OutputParser() {
            @Override
            public ParsedDelta accept(int[] tokenIds, String text) {
                int reasoning = 0;
                List<OutputDelta> deltas = new ArrayList<>();
                for (int id : tokenIds) {
                    if (parser.inReasoning()) {
                        reasoning++;
                    }
                    deltas.addAll(parser.push(id));
                }
                return fold(deltas, reasoning);
            }

            @Override
            public ParsedDelta finish() {
                return fold(parser.finish(FinishReason.STOP), 0);
            }
        };
    }

    static ParsedDelta fold(List<OutputDelta> deltas, int reasoningTokens) {
        StringBuilder reasoning = null;
        StringBuilder content = null;
        List<ToolCallDelta> calls = new ArrayList<>();
        for (OutputDelta d : deltas) {
            switch (d) {
                case OutputDelta.Reasoning r -> (reasoning = reasoning == null ? new StringBuilder() : reasoning).append(r.text());
                case OutputDelta.Content c -> (content = content == null ? new StringBuilder() : content).append(c.text());
                case OutputDelta.ToolCallBegin b -> calls.add(new ToolCallDelta(b.index(), b.id(), b.name(), ""));
                case OutputDelta.ToolCallArguments a -> {
                    ToolCallDelta last = calls.isEmpty() ? null : calls.getLast();
                    if (last != null && last.index() == a.index()) {
                        calls.set(calls.size() - 1, new ToolCallDelta(last.index(), last.id(), last.name(),
                                last.arguments() + a.fragment()));
                    } else {
                        calls.add(new ToolCallDelta(a.index(), null, null, a.fragment()));
                    }
                }
            }
        }
        if (reasoning == null && content == null && calls.isEmpty() && reasoningTokens == 0) {
            return ParsedDelta.EMPTY;
        }
        return new ParsedDelta(reasoning == null ? null : reasoning.toString(),
                content == null ? null : content.toString(), calls, reasoningTokens);
    }
}
