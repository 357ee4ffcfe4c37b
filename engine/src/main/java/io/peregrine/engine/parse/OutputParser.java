package io.peregrine.engine.parse;

import io.peregrine.engine.tokenizer.IncrementalDetokenizer;
import io.peregrine.engine.tokenizer.KimiTokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Splits Kimi output into reasoning, content and tool calls, driven by token ids (markers are single special
 * tokens, so no text matching is needed and nothing is ever held back waiting for a marker to complete).
 *
 * <pre>
 * {reasoning}&lt;/think&gt;{content}&lt;|tool_calls_section_begin|&gt;
 *   &lt;|tool_call_begin|&gt;functions.NAME:IDX&lt;|tool_call_argument_begin|&gt;{json}&lt;|tool_call_end|&gt;…
 * &lt;|tool_calls_section_end|&gt;&lt;|im_end|&gt;
 * </pre>
 *
 * Streaming and non-streaming use this same machine: {@link #parse} is {@link #push} of every id plus
 * {@link #finish}, and the final message is folded from the very deltas that were streamed. One per choice; not
 * thread-safe.
 *
 * <p>The serving engine decodes each token once and hands its text in ({@link #push(int, String)}); a parser made
 * with a tokenizer decodes by the same rule itself, for one-shot use outside the engine ({@link #parse}).
 */
public final class OutputParser implements ChoiceParser {
    /** {@code functions.NAME:IDX}; names may contain dots and hyphens. */
    private static final Pattern CALL_ID = Pattern.compile("(?:functions\\.)?(.+):(\\d+)");

    private enum State { REASONING, CONTENT, TOOL_SECTION, TOOL_ID, TOOL_ARGS, AFTER_SECTION, DONE }

    private final MarkerIds markers;
    /** null: the caller hands in each token's text */
    private final IncrementalDetokenizer detok;
    private final MessageAccumulator message = new MessageAccumulator();
    private State state;
    private boolean emittedContent;
    private final StringBuilder callId = new StringBuilder();
    private int callCount;
    private int openCall = -1; // index of a call whose arguments are streaming
    private boolean sawEnd;
    private ParsedMessage result;

    /**
     * @param startInReasoning true when the prompt ends with {@code <think>} (thinking mode): the output begins
     *                         inside reasoning
     */
    public OutputParser(MarkerIds markers, boolean startInReasoning) {
        this(null, markers, startInReasoning);
    }

    /** A parser that decodes the ids it is given itself ({@link #push(int)}), by the engine's rule. */
    public OutputParser(KimiTokenizer tokenizer, MarkerIds markers, boolean startInReasoning) {
        this.markers = markers;
        this.detok = tokenizer == null ? null : new IncrementalDetokenizer(tokenizer, false);
        this.state = startInReasoning ? State.REASONING : State.CONTENT;
    }

    /** Each choice's parser for output that starts inside reasoning or not. */
    public static ChoiceParser.Factory factory(MarkerIds markers, boolean startInReasoning) {
        return () -> new OutputParser(markers, startInReasoning);
    }

    /**
     * A parser for the output that follows {@code promptIds}: inside reasoning when the prompt's last marker is
     * {@code <think>} (the generation prompt in thinking mode, or a partial reasoning prefix after it).
     */
    public static OutputParser forPrompt(KimiTokenizer tokenizer, MarkerIds markers, int[] promptIds) {
        boolean thinking = false;
        for (int i = promptIds.length - 1; i >= 0; i--) {
            if (tokenizer.isSpecial(promptIds[i])) {
                thinking = promptIds[i] == markers.thinkBegin();
                break;
            }
        }
        return new OutputParser(tokenizer, markers, thinking);
    }

    /** One-shot parse of a finished generation. */
    public static ParsedMessage parse(KimiTokenizer tokenizer, MarkerIds markers, boolean startInReasoning,
                                      int[] ids, OutputFinish reason) {
        OutputParser p = new OutputParser(tokenizer, markers, startInReasoning);
        p.push(ids);
        p.finish(reason);
        return p.message();
    }

    /** True while the output is inside reasoning (for counting reasoning tokens). */
    @Override
    public boolean inReasoning() {
        return state == State.REASONING;
    }

    /** True once {@code <|im_end|>} or {@code [EOS]} was seen; later ids are ignored. */
    public boolean ended() {
        return sawEnd;
    }

    /** Decodes and parses several ids (a parser made with a tokenizer). */
    public List<OutputDelta> push(int[] ids) {
        List<OutputDelta> out = new ArrayList<>();
        for (int id : ids) {
            out.addAll(push(id));
        }
        return out;
    }

    /**
     * Decodes and parses one id (a parser made with a tokenizer): a marker ends the current text, so a held-back
     * partial character is final at it.
     */
    public List<OutputDelta> push(int id) {
        if (detok == null) {
            throw new IllegalStateException("this parser is handed its text; it has no tokenizer");
        }
        return push(id, markers.isSpecial(id) ? detok.flush() : detok.push(id));
    }

    @Override
    public List<OutputDelta> push(int id, String text) {
        List<OutputDelta> out = new ArrayList<>(1);
        step(id, text, out);
        return out;
    }

    private void step(int id, String decoded, List<OutputDelta> out) {
        if (result != null) {
            throw new IllegalStateException("push after finish");
        }
        if (state == State.DONE) {
            return;
        }
        text(decoded, out); // for a marker: what it made final comes before it
        if (!markers.isSpecial(id)) {
            return;
        }
        if (markers.isEnd(id)) {
            closeOpenCall(out);
            sawEnd = true;
            state = State.DONE;
            return;
        }
        switch (state) {
            case REASONING -> {
                if (id == markers.thinkEnd()) {
                    state = State.CONTENT;
                } else if (id == markers.sectionBegin()) {
                    state = State.TOOL_SECTION; // implicit end of reasoning
                } else if (id == markers.callBegin()) {
                    beginCallId(); // a call without its section marker also ends reasoning
                }
            }
            case CONTENT, AFTER_SECTION -> {
                if (id == markers.thinkBegin() && !emittedContent && state == State.CONTENT) {
                    state = State.REASONING; // a model that opens its own think block
                } else if (id == markers.sectionBegin()) {
                    state = State.TOOL_SECTION;
                } else if (id == markers.callBegin()) {
                    beginCallId();
                }
            }
            case TOOL_SECTION -> {
                if (id == markers.callBegin()) {
                    beginCallId();
                } else if (id == markers.sectionEnd()) {
                    state = State.AFTER_SECTION;
                }
            }
            case TOOL_ID -> {
                if (id == markers.argumentBegin()) {
                    openCall(out);
                    state = State.TOOL_ARGS;
                } else if (id == markers.callEnd()) {
                    closeOpenCall(out); // a call without arguments
                    state = State.TOOL_SECTION;
                } else if (id == markers.sectionEnd()) {
                    closeOpenCall(out);
                    state = State.AFTER_SECTION;
                }
            }
            case TOOL_ARGS -> {
                if (id == markers.callEnd()) {
                    closeOpenCall(out);
                    state = State.TOOL_SECTION;
                } else if (id == markers.sectionEnd()) {
                    closeOpenCall(out); // missing call end
                    state = State.AFTER_SECTION;
                } else if (id == markers.callBegin()) {
                    closeOpenCall(out); // missing call end
                    beginCallId();
                }
            }
            case DONE -> { }
        }
        // any other special id in any state is dropped: it never becomes text
    }

    private void beginCallId() {
        callId.setLength(0);
        state = State.TOOL_ID;
    }

    private void openCall(List<OutputDelta> out) {
        String id = callId.toString().strip();
        Matcher m = CALL_ID.matcher(id);
        String name;
        if (m.matches()) {
            name = m.group(1);
        } else {
            name = id.startsWith("functions.") ? id.substring("functions.".length()) : id;
        }
        openCall = callCount++;
        emit(new OutputDelta.ToolCallBegin(openCall, id, name), out);
    }

    private void closeOpenCall(List<OutputDelta> out) {
        if (state == State.TOOL_ID && openCall < 0 && !callId.toString().isBlank()) {
            openCall(out); // cut inside the id: still report the call
        }
        openCall = -1;
    }

    private void text(String s, List<OutputDelta> out) {
        if (s.isEmpty()) {
            return;
        }
        switch (state) {
            case REASONING -> emit(new OutputDelta.Reasoning(s), out);
            case CONTENT, AFTER_SECTION -> {
                emittedContent = true;
                emit(new OutputDelta.Content(s), out);
            }
            case TOOL_ID -> callId.append(s);
            case TOOL_ARGS -> emit(new OutputDelta.ToolCallArguments(openCall, s), out);
            case TOOL_SECTION, DONE -> { } // whitespace between calls; nothing after the end
        }
    }

    private void emit(OutputDelta d, List<OutputDelta> out) {
        message.apply(d);
        out.add(d);
    }

    /** Ends the output of a parser made with a tokenizer: what it still holds is final now. */
    public List<OutputDelta> finish(OutputFinish reason) {
        return finish(detok == null ? "" : detok.flush(), reason);
    }

    /**
     * Ends the output. {@code reason} is why the engine stopped ({@link OutputFinish#STOP} for any natural stop);
     * the result adds {@code tool_calls} and whether a cut fell inside reasoning.
     */
    @Override
    public List<OutputDelta> finish(String tail, OutputFinish reason) {
        if (result != null) {
            throw new IllegalStateException("finish called twice");
        }
        List<OutputDelta> out = new ArrayList<>();
        if (state != State.DONE) {
            text(tail, out);
        }
        boolean inReasoning = state == State.REASONING;
        int incomplete = -1;
        if (state == State.TOOL_ID && !callId.toString().isBlank()) {
            openCall(out);
            incomplete = openCall;
        } else if (state == State.TOOL_ARGS) {
            incomplete = openCall;
        }
        boolean natural = reason == OutputFinish.STOP || reason == OutputFinish.TOOL_CALLS;
        OutputFinish finish = natural ? callCount > 0 ? OutputFinish.TOOL_CALLS : OutputFinish.STOP : reason;
        result = message.build(finish, !natural && inReasoning, incomplete);
        state = State.DONE;
        return out;
    }

    /** The final message; only after {@link #finish}. */
    public ParsedMessage message() {
        if (result == null) {
            throw new IllegalStateException("message() before finish()");
        }
        return result;
    }
}
