package io.peregrine.engine.constrain;

import io.peregrine.engine.parse.MarkerIds;
import io.peregrine.engine.runtime.TokenConstraint;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * Makes a Kimi choice end in a tool call (spec §7.1, §7.3): once reasoning has ended (thinking mode: at
 * {@code </think>} or an implicit end at {@code <|tool_calls_section_begin|>}; instant mode: at once) only
 * {@code <|tool_calls_section_begin|><|tool_call_begin|>} may follow, then a call id the {@link ToolCallRule}
 * allows ({@code functions.NAME:IDX}, IDX counting on from the conversation's earlier calls), then {@code <|tool_call_argument_begin|>}; the arguments are the model's (no special token but
 * {@code <|tool_call_end|>}); after the call either another call (required, parallel) or
 * {@code <|tool_calls_section_end|><|im_end|>}. The end of the message is forbidden everywhere before that, so
 * no choice ends without a finished call (it can still be cut by max_tokens or a stop string).
 *
 * <p>A function declared without parameters ({@link ToolCallRule#parameterless()}) gets {@code {}} forced as its
 * arguments. Not enforced for the others: that the arguments are valid JSON, let alone match the function's
 * parameter schema (a JSON-schema grammar is future work).
 */
public final class ToolCallConstraint implements TokenConstraint {
    private enum Phase { REASONING, SECTION, CALL_BEGIN, NAME, ARGS, FIXED_ARGS, AFTER_CALL, CLOSE, DONE }

    private static final byte[] NO_ARGUMENTS = {'{', '}'};

    private final MarkerIds m;
    private final TokenBytesIndex vocab;
    private final List<String> names;
    private final int firstIndex;
    private final boolean moreCalls;
    private final Set<String> parameterless;
    private Phase phase;
    private int calls; // calls begun so far
    private CallIdLanguage ids; // the id the current call must write
    private int fixedDone; // bytes of NO_ARGUMENTS written so far
    private int nameTokensCount; // filled part of allowed
    private byte[] name = new byte[64];
    private int nameLen;
    private int[] allowed = new int[256];
    private float[] kept = new float[256];

    private ToolCallConstraint(MarkerIds m, TokenBytesIndex vocab, List<String> names, int firstIndex,
                               boolean moreCalls, Set<String> parameterless, boolean startInReasoning) {
        this.m = m;
        this.vocab = vocab;
        this.names = names;
        this.firstIndex = firstIndex;
        this.moreCalls = moreCalls;
        this.parameterless = parameterless;
        this.phase = startInReasoning ? Phase.REASONING : Phase.SECTION;
    }

    /**
     * @param startInReasoning true when the prompt ends with {@code <think>} (thinking mode), as for the
     *                         output parser
     */
    public static TokenConstraint.Factory factory(ToolCallRule rule, MarkerIds markers, TokenBytesIndex vocab,
                                                  boolean startInReasoning) {
        List<String> names = switch (rule) {
            case ToolCallRule.Named n -> List.of(n.name());
            case ToolCallRule.Required r -> r.names();
        };
        int first = switch (rule) {
            case ToolCallRule.Named n -> n.callIndex();
            case ToolCallRule.Required r -> r.firstCallIndex();
        };
        boolean more = rule instanceof ToolCallRule.Required r && r.parallel();
        Set<String> fixed = Set.copyOf(rule.parameterless());
        return choice -> new ToolCallConstraint(markers, vocab, names, first, more, fixed, startInReasoning);
    }

    @Override
    public void mask(float[] logits) {
        switch (phase) {
            case REASONING -> {
                forbid(logits, m.imEnd());
                forbid(logits, m.eos());
                forbid(logits, m.callBegin());
                forbid(logits, m.argumentBegin());
                forbid(logits, m.callEnd());
                forbid(logits, m.sectionEnd());
            }
            case SECTION -> keepOnly(logits, m.sectionBegin());
            case CALL_BEGIN -> keepOnly(logits, m.callBegin());
            case NAME -> keepOnly(logits, nameTokens(logits.length));
            case ARGS -> {
                for (int t = m.firstSpecial(); t < logits.length; t++) {
                    if (t != m.callEnd()) {
                        logits[t] = Float.NEGATIVE_INFINITY;
                    }
                }
            }
            case FIXED_ARGS -> keepOnly(logits, fixedTokens());
            case AFTER_CALL -> {
                if (moreCalls) {
                    keepOnly(logits, m.callBegin(), m.sectionEnd());
                } else {
                    keepOnly(logits, m.sectionEnd());
                }
            }
            case CLOSE -> keepOnly(logits, m.imEnd());
            case DONE -> { }
        }
    }

    @Override
    public void accept(int t) {
        Phase next = switch (phase) {
            case REASONING -> {
                if (t == m.imEnd() || t == m.eos() || t == m.callBegin() || t == m.argumentBegin()
                        || t == m.callEnd() || t == m.sectionEnd()) {
                    yield null;
                }
                yield t == m.thinkEnd() ? Phase.SECTION : t == m.sectionBegin() ? Phase.CALL_BEGIN : Phase.REASONING;
            }
            case SECTION -> t == m.sectionBegin() ? Phase.CALL_BEGIN : null;
            case CALL_BEGIN -> t == m.callBegin() ? Phase.NAME : null;
            case NAME -> {
                if (t == m.argumentBegin()) {
                    if (!ids.complete(name, nameLen)) {
                        yield null;
                    }
                    fixedDone = 0;
                    yield parameterless.contains(calledName()) ? Phase.FIXED_ARGS : Phase.ARGS;
                }
                if (t < 0 || t >= vocab.regularTokens() || !ids.viable(name, nameLen, vocab.bytes(t))) {
                    yield null;
                }
                appendName(vocab.bytes(t));
                yield Phase.NAME;
            }
            case ARGS -> t == m.callEnd() ? Phase.AFTER_CALL : m.isSpecial(t) ? null : Phase.ARGS;
            case FIXED_ARGS -> {
                if (fixedDone == NO_ARGUMENTS.length) {
                    yield t == m.callEnd() ? Phase.AFTER_CALL : null;
                }
                if (t < 0 || t >= vocab.regularTokens() || !extendsFixed(vocab.bytes(t))) {
                    yield null;
                }
                fixedDone += vocab.bytes(t).length;
                yield Phase.FIXED_ARGS;
            }
            case AFTER_CALL -> t == m.sectionEnd() ? Phase.CLOSE : t == m.callBegin() && moreCalls ? Phase.NAME : null;
            case CLOSE -> t == m.imEnd() ? Phase.DONE : null;
            case DONE -> Phase.DONE;
        };
        if (next == null) {
            throw new IllegalStateException("token " + t + " is not allowed by the tool-call constraint in " + phase);
        }
        if (next == Phase.NAME && phase != Phase.NAME) {
            nameLen = 0;
            ids = new CallIdLanguage(names, firstIndex + calls++);
        }
        phase = next;
    }

    /** Regular tokens that keep the call id viable, plus the argument marker once the id is whole. */
    private int[] nameTokens(int vocabSize) {
        nameTokensCount = 0;
        byte[] one = new byte[1];
        for (int f = 0; f < 256; f++) {
            one[0] = (byte) f;
            if (!ids.viable(name, nameLen, one)) {
                continue;
            }
            for (int t : vocab.startingWith(f)) {
                if (t < vocabSize && ids.viable(name, nameLen, vocab.bytes(t))) {
                    addAllowed(t);
                }
            }
        }
        if (ids.complete(name, nameLen)) {
            addAllowed(m.argumentBegin());
        }
        return Arrays.copyOf(allowed, nameTokensCount);
    }

    /** NAME of the whole call id {@code functions.NAME:IDX} in the name buffer. */
    private String calledName() {
        String id = new String(name, 0, nameLen, StandardCharsets.UTF_8);
        return id.substring("functions.".length(), id.lastIndexOf(':'));
    }

    private boolean extendsFixed(byte[] b) {
        if (b.length == 0 || fixedDone + b.length > NO_ARGUMENTS.length) {
            return false;
        }
        for (int i = 0; i < b.length; i++) {
            if (b[i] != NO_ARGUMENTS[fixedDone + i]) {
                return false;
            }
        }
        return true;
    }

    /** The tokens that continue the forced {@code {}}, or the call end once it is written. */
    private int[] fixedTokens() {
        if (fixedDone == NO_ARGUMENTS.length) {
            return new int[] {m.callEnd()};
        }
        nameTokensCount = 0;
        for (int t : vocab.startingWith(NO_ARGUMENTS[fixedDone] & 0xFF)) {
            if (extendsFixed(vocab.bytes(t))) {
                addAllowed(t);
            }
        }
        return Arrays.copyOf(allowed, nameTokensCount);
    }

    private void addAllowed(int t) {
        if (nameTokensCount == allowed.length) {
            allowed = Arrays.copyOf(allowed, allowed.length * 2);
        }
        allowed[nameTokensCount++] = t;
    }

    private void appendName(byte[] b) {
        if (nameLen + b.length > name.length) {
            name = Arrays.copyOf(name, Math.max(name.length * 2, nameLen + b.length));
        }
        System.arraycopy(b, 0, name, nameLen, b.length);
        nameLen += b.length;
    }

    private static void forbid(float[] logits, int t) {
        if (t >= 0 && t < logits.length) {
            logits[t] = Float.NEGATIVE_INFINITY;
        }
    }

    private void keepOnly(float[] logits, int... tokens) {
        if (kept.length < tokens.length) {
            kept = new float[tokens.length];
        }
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] < 0 || tokens[i] >= logits.length) {
                throw new IllegalStateException("token " + tokens[i] + " is outside the model's " + logits.length
                        + "-token vocabulary");
            }
            kept[i] = logits[tokens[i]];
        }
        Arrays.fill(logits, Float.NEGATIVE_INFINITY);
        for (int i = 0; i < tokens.length; i++) {
            // a forced token keeps its logit, even a model's -inf: it is allowed, so make it finite
            logits[tokens[i]] = kept[i] == Float.NEGATIVE_INFINITY ? -Float.MAX_VALUE : kept[i];
        }
    }
}
