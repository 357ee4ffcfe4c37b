package io.peregrine.engine.runtime;

import io.peregrine.engine.parse.ChoiceParser;
import io.peregrine.engine.parse.OutputDelta;
import io.peregrine.engine.parse.OutputFinish;
import io.peregrine.engine.sample.StopStrings;
import io.peregrine.engine.tokenizer.IncrementalDetokenizer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One choice's output, from token ids to what a client is sent, with each id turned into text exactly once.
 *
 * <p>Each token is decoded by the choice's one incremental decoder (a character split across tokens comes out
 * whole; a special token ends the text before it, so a partial character there is final as U+FFFD). The text goes
 * through the stop strings, which hold back what could still begin one and never release a stop string or
 * anything after it. A token is handed to the output parser (reasoning, content, tool calls) once all of its text
 * is released, so the parser never sees what a stop string takes back; at a stop string, the part of the cut
 * token before it is handed over as that token's text. Special tokens add their text to the stream unless the
 * engine skips special text; the parser reacts to their ids.
 *
 * <p>What one step released is taken with {@link #take}. Engine thread only.
 */
final class ChoiceOutput {
    /** What a step released: the text, the ids that text came from, their deltas, how many were reasoning. */
    record Released(String text, int[] ids, List<OutputDelta> deltas, int reasoningTokens) {
        static final Released NONE = new Released("", new int[0], List.of(), 0);

        boolean isEmpty() {
            return text.isEmpty() && ids.length == 0 && deltas.isEmpty();
        }
    }

    /** A token not yet released whole: its text in the stream, and what the parser gets for it. */
    private record Held(int id, boolean special, String text, String parserText) {}

    private final TokenDecoder decoder;
    private final boolean skipSpecialText;
    private final IncrementalDetokenizer detok;
    private final StopStrings stops;
    /** null: raw text, no parsing (legacy completions) */
    private final ChoiceParser parser;
    private final ArrayDeque<Held> held = new ArrayDeque<>();
    /** Released characters not yet spent on a whole held token. */
    private int credit;

    private final StringBuilder text = new StringBuilder();
    private int[] ids = new int[4];
    private int idCount;
    private final List<OutputDelta> deltas = new ArrayList<>();
    private int reasoningTokens;

    ChoiceOutput(TokenDecoder decoder, boolean skipSpecialText, List<String> stops, ChoiceParser parser) {
        this.decoder = decoder;
        this.skipSpecialText = skipSpecialText;
        this.detok = new IncrementalDetokenizer(decoder);
        this.stops = new StopStrings(stops);
        this.parser = parser;
    }

    /** A sampled token that does not end the choice by its id; returns the stop string it completed, or null. */
    String push(int id) {
        boolean special = decoder.isSpecial(id);
        String before = special ? detok.flush() : "";
        String own = special && skipSpecialText ? "" : detok.push(id);
        held.add(new Held(id, special, before + own, special ? before : own));
        StopStrings.Release r = stops.push(before + own);
        release(r.text());
        if (r.stop() != null) {
            cut();
            return r.stop();
        }
        handOver();
        return null;
    }

    /**
     * The choice ended. {@code endId} is the eos or stop token id that ended it (its text is never sent; a special
     * one still reaches the parser), or -1. {@code flush}: everything held is released (anything but a stop string
     * or an abort); else only what was released already counts, as a stop string cut it.
     */
    void finish(int endId, FinishReason reason, boolean flush) {
        String tail = "";
        if (flush) {
            tail = detok.flush();
            release(stops.flush() + tail);
            handOver();
            credit = 0;
        } else {
            cut();
        }
        if (parser == null) {
            return;
        }
        if (endId >= 0 && decoder.isSpecial(endId)) {
            feed(endId, tail);
            tail = "";
        }
        add(parser.finish(tail, reason.outputFinish()));
    }

    /** What was released since the last call. */
    Released take() {
        if (text.isEmpty() && idCount == 0 && deltas.isEmpty() && reasoningTokens == 0) {
            return Released.NONE;
        }
        Released r = new Released(text.toString(), Arrays.copyOf(ids, idCount), List.copyOf(deltas), reasoningTokens);
        text.setLength(0);
        idCount = 0;
        deltas.clear();
        reasoningTokens = 0;
        return r;
    }

    private void release(String s) {
        text.append(s);
        credit += s.length();
    }

    /** Hands every token whose text is all released to the parser, oldest first. */
    private void handOver() {
        while (!held.isEmpty() && held.peekFirst().text().length() <= credit) {
            Held h = held.pollFirst();
            credit -= h.text().length();
            feed(h.id(), h.parserText());
        }
        if (held.isEmpty()) {
            // Characters no token owes (a partial character flushed at the end): no later token may pass on them.
            credit = 0;
        }
    }

    /**
     * A stop string (or an abort) ends the choice inside the held tokens: those before the cut pass, special ones
     * always (their markers still shape the message), and the token the cut falls in passes with the released
     * part of its text.
     */
    private void cut() {
        for (Held h : held) {
            if (h.special()) {
                credit -= Math.min(credit, h.text().length());
                feed(h.id(), h.parserText());
            } else if (h.text().length() <= credit) {
                credit -= h.text().length();
                feed(h.id(), h.parserText());
            } else {
                int end = credit;
                if (end > 0 && Character.isHighSurrogate(h.text().charAt(end - 1))) {
                    end--;
                }
                if (end > 0) {
                    feed(h.id(), h.parserText().substring(0, end));
                } else if (parser != null && parser.inReasoning()) {
                    reasoningTokens++; // generated while reasoning, though none of its text is sent
                }
                break;
            }
        }
        held.clear();
        credit = 0;
    }

    private void feed(int id, String parserText) {
        if (idCount == ids.length) {
            ids = Arrays.copyOf(ids, 2 * ids.length);
        }
        ids[idCount++] = id;
        if (parser != null) {
            if (parser.inReasoning()) {
                reasoningTokens++;
            }
            add(parser.push(id, parserText));
        }
    }

    /** Appends deltas, merging text that continues the previous delta of the same kind. */
    private void add(List<OutputDelta> more) {
        for (OutputDelta d : more) {
            OutputDelta last = deltas.isEmpty() ? null : deltas.getLast();
            OutputDelta merged = switch (d) {
                case OutputDelta.Reasoning r when last instanceof OutputDelta.Reasoning p ->
                        new OutputDelta.Reasoning(p.text() + r.text());
                case OutputDelta.Content c when last instanceof OutputDelta.Content p ->
                        new OutputDelta.Content(p.text() + c.text());
                case OutputDelta.ToolCallArguments a
                        when last instanceof OutputDelta.ToolCallArguments p && p.index() == a.index() ->
                        new OutputDelta.ToolCallArguments(a.index(), p.fragment() + a.fragment());
                default -> null;
            };
            if (merged != null) {
                deltas.set(deltas.size() - 1, merged);
            } else {
                deltas.add(d);
            }
        }
    }
}
