package io.peregrine.server.wiring;

import io.peregrine.engine.parse.MarkerIds;
import io.peregrine.engine.parse.OutputDelta;
import io.peregrine.engine.runtime.FinishReason;
import io.peregrine.engine.runtime.TokenDecoder;
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
 * works on token ids (markers are single special tokens) and decodes their text itself; the engine's released
 * text only decides when ids may pass ({@link ReleaseGate}), so stop strings are cut as the engine cut them.
 */
public final class KimiOutputParsers implements OutputParserFactory {
    private final KimiTokenizer tokenizer;
    private final MarkerIds markers;
    private final TokenDecoder decoder;
    private final boolean engineSkipsSpecialText;

    /** For an engine that keeps special tokens' text in its stream ({@code EngineConfig.forModel}'s default). */
    public KimiOutputParsers(KimiTokenizer tokenizer) {
        this(tokenizer, false);
    }

    /** @param engineSkipsSpecialText the engine's {@code skipSpecialTokens} */
    public KimiOutputParsers(KimiTokenizer tokenizer, boolean engineSkipsSpecialText) {
        this.tokenizer = tokenizer;
        this.markers = MarkerIds.from(tokenizer);
        this.engineSkipsSpecialText = engineSkipsSpecialText;
        this.decoder = new KimiTextCodec(tokenizer, -1); // only its TokenDecoder side is used here
    }

    @Override
    public OutputParser create(OutputSpec spec) {
        var parser = new io.peregrine.engine.parse.OutputParser(tokenizer, markers, spec.thinking().enabled());
        ReleaseGate gate = new ReleaseGate(decoder, engineSkipsSpecialText);
        return new OutputParser() {
            private int reasoning;

            private void push(int id, List<OutputDelta> deltas) {
                if (parser.inReasoning()) {
                    reasoning++;
                }
                deltas.addAll(parser.push(id));
            }

            @Override
            public ParsedDelta accept(int[] tokenIds, String text) {
                reasoning = 0;
                List<OutputDelta> deltas = new ArrayList<>();
                for (int id : gate.accept(tokenIds, text)) {
                    push(id, deltas);
                }
                return fold(deltas, reasoning);
            }

            @Override
            public ParsedDelta finish() {
                // What is still held was never released whole: a stop string ended inside it (only the text
                // before the stop string is sent), or an eos that adds no text (the parser ends on it).
                reasoning = 0;
                List<OutputDelta> deltas = new ArrayList<>();
                int credit = gate.credit();
                for (ReleaseGate.Held h : gate.held()) {
                    if (tokenizer.isSpecial(h.id())) {
                        credit -= Math.min(credit, h.text().length());
                        push(h.id(), deltas);
                    } else if (h.text().length() <= credit) {
                        credit -= h.text().length();
                        push(h.id(), deltas);
                    } else {
                        int cut = credit;
                        if (cut > 0 && Character.isHighSurrogate(h.text().charAt(cut - 1))) {
                            cut--;
                        }
                        String part = h.text().substring(0, cut);
                        if (parser.inReasoning()) {
                            reasoning++;
                            if (!part.isEmpty()) {
                                deltas.add(new OutputDelta.Reasoning(part));
                            }
                        } else if (!part.isEmpty()) {
                            deltas.add(new OutputDelta.Content(part));
                        }
                        break;
                    }
                }
                deltas.addAll(parser.finish(FinishReason.STOP));
                return fold(deltas, reasoning);
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
