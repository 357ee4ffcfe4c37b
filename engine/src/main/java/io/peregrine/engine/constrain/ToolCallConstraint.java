package io.peregrine.engine.constrain;

import io.peregrine.engine.constrain.json.JsonGrammar;
import io.peregrine.engine.constrain.json.JsonMatcher;
import io.peregrine.engine.constrain.json.JsonVocabulary;
import io.peregrine.engine.parse.MarkerIds;
import io.peregrine.engine.runtime.TokenConstraint;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * Shapes a Kimi choice (spec §7.1, §7.3) once reasoning has ended (thinking mode: at {@code </think>} or an
 * implicit end at {@code <|tool_calls_section_begin|>}; instant mode: at once; nothing is constrained while the
 * model thinks but the markers that cannot appear there):
 * <ul>
 * <li>tool_choice named / required ({@link ToolCallRule.Named}, {@link ToolCallRule.Required}): only
 * {@code <|tool_calls_section_begin|><|tool_call_begin|>} may follow, and the end of the message is forbidden
 * until a call is finished;</li>
 * <li>auto ({@link ToolCallRule.Auto}): the model may answer in text, or in JSON when the content has a grammar
 * ({@code response_format}), or open the tool section before that answer starts.</li>
 * </ul>
 * Every call then writes an id the rule allows ({@code functions.NAME:IDX}, a declared name, IDX counting on from
 * the conversation's earlier calls), {@code <|tool_call_argument_begin|>}, arguments that follow the function's
 * {@link JsonGrammar} (its schema when strict, else any JSON object, {@code {}} without parameters) and
 * {@code <|tool_call_end|>} only once they are complete; then another call (parallel) or
 * {@code <|tool_calls_section_end|><|im_end|>}. JSON content ends with {@code <|im_end|>} once it is complete. A
 * choice can still be cut by max_tokens or a stop string.
 */
public final class ToolCallConstraint implements TokenConstraint {
    private enum Phase { REASONING, CONTENT, SECTION, CALL_BEGIN, NAME, ARGS, AFTER_CALL, CLOSE, DONE }

    private final MarkerIds m;
    private final TokenBytesIndex vocab;
    private final List<String> names;
    private final int firstIndex;
    private final boolean forced;
    private final boolean moreCalls;
    private final Set<String> parameterless;
    private final OutputGrammars grammars;
    private Phase phase;
    private int calls; // calls begun so far
    private CallIdLanguage ids; // the id the current call must write
    private JsonMatcher json; // CONTENT with a grammar, ARGS: where the JSON stands
    private boolean contentStarted;
    private int nameTokensCount; // filled part of allowed
    private byte[] name = new byte[64];
    private int nameLen;
    private int[] allowed = new int[256];
    private float[] kept = new float[256];
    private long[] bits;

    private ToolCallConstraint(MarkerIds m, TokenBytesIndex vocab, ToolCallRule rule, OutputGrammars grammars,
                               boolean startInReasoning) {
        this.m = m;
        this.vocab = vocab;
        this.grammars = grammars;
        this.names = switch (rule) {
            case ToolCallRule.Named n -> List.of(n.name());
            case ToolCallRule.Required r -> r.names();
            case ToolCallRule.Auto a -> a.names();
        };
        this.firstIndex = switch (rule) {
            case ToolCallRule.Named n -> n.callIndex();
            case ToolCallRule.Required r -> r.firstCallIndex();
            case ToolCallRule.Auto a -> a.firstCallIndex();
        };
        this.forced = !(rule instanceof ToolCallRule.Auto);
        this.moreCalls = rule instanceof ToolCallRule.Required r && r.parallel()
                || rule instanceof ToolCallRule.Auto a && a.parallel();
        this.parameterless = rule.parameterless();
        this.phase = startInReasoning ? Phase.REASONING : afterReasoning();
    }

    /** A copy in this one's state; the scratch buffers are its own. */
    private ToolCallConstraint(ToolCallConstraint o) {
        this.m = o.m;
        this.vocab = o.vocab;
        this.names = o.names;
        this.firstIndex = o.firstIndex;
        this.forced = o.forced;
        this.moreCalls = o.moreCalls;
        this.parameterless = o.parameterless;
        this.grammars = o.grammars;
        this.phase = o.phase;
        this.calls = o.calls;
        this.ids = o.ids; // immutable
        this.json = o.json; // immutable
        this.contentStarted = o.contentStarted;
        this.name = o.name.clone();
        this.nameLen = o.nameLen;
    }

    @Override
    public ToolCallConstraint copy() {
        return new ToolCallConstraint(this);
    }

    /**
     * Named / required calls with free-form JSON-object arguments ({@link OutputGrammars#NONE}).
     *
     * @param startInReasoning true when the prompt ends with {@code <think>} (thinking mode), as for the
     *                         output parser
     */
    public static TokenConstraint.Factory factory(ToolCallRule rule, MarkerIds markers, TokenBytesIndex vocab,
                                                  boolean startInReasoning) {
        return factory(rule, OutputGrammars.NONE, markers, vocab, startInReasoning);
    }

    /** @param grammars what the content (response_format) and each function's arguments must be */
    public static TokenConstraint.Factory factory(ToolCallRule rule, OutputGrammars grammars, MarkerIds markers,
                                                  TokenBytesIndex vocab, boolean startInReasoning) {
        vocab.json(); // build the shared trie now, on the request thread, not on the engine's first masked step
        return choice -> new ToolCallConstraint(markers, vocab, rule, grammars, startInReasoning);
    }

    private Phase afterReasoning() {
        if (forced) {
            return Phase.SECTION;
        }
        json = grammars.content() == null ? null : grammars.content().matcher();
        return Phase.CONTENT;
    }

    /** Whether the tool section may open now (auto mode: before any JSON answer has started). */
    private boolean sectionAllowed() {
        return !names.isEmpty() && (phase == Phase.REASONING || json == null || !contentStarted);
    }

    @Override
    public void mask(float[] logits) {
        switch (phase) {
            case REASONING -> {
                forbidCallMarkers(logits);
                if (forced || grammars.content() != null) {
                    forbid(logits, m.imEnd()); // the call or the JSON answer must come after the thinking
                    forbid(logits, m.eos());
                }
                if (names.isEmpty()) {
                    forbid(logits, m.sectionBegin());
                }
            }
            case CONTENT -> {
                if (json != null) {
                    maskJson(logits, json.complete() ? m.imEnd() : -1, sectionAllowed() ? m.sectionBegin() : -1);
                } else {
                    forbidCallMarkers(logits);
                    if (names.isEmpty()) {
                        forbid(logits, m.sectionBegin());
                    }
                }
            }
            case SECTION -> keepOnly(logits, m.sectionBegin());
            case CALL_BEGIN -> keepOnly(logits, m.callBegin());
            case NAME -> keepOnly(logits, nameTokens(logits.length));
            case ARGS -> maskJson(logits, json.complete() ? m.callEnd() : -1, -1);
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
                if (callMarker(t) || (forced || grammars.content() != null) && m.isEnd(t)
                        || names.isEmpty() && t == m.sectionBegin()) {
                    yield null;
                }
                if (t == m.thinkEnd()) {
                    yield afterReasoning();
                }
                yield t == m.sectionBegin() ? Phase.CALL_BEGIN : m.isEnd(t) ? Phase.DONE : Phase.REASONING;
            }
            case CONTENT -> content(t);
            case SECTION -> t == m.sectionBegin() ? Phase.CALL_BEGIN : null;
            case CALL_BEGIN -> t == m.callBegin() ? Phase.NAME : null;
            case NAME -> {
                if (t == m.argumentBegin()) {
                    if (!ids.complete(name, nameLen)) {
                        yield null;
                    }
                    String called = calledName();
                    json = grammars.argumentsOf(called, parameterless.contains(called)).matcher();
                    yield Phase.ARGS;
                }
                if (t < 0 || t >= vocab.regularTokens() || !ids.viable(name, nameLen, vocab.bytes(t))) {
                    yield null;
                }
                appendName(vocab.bytes(t));
                yield Phase.NAME;
            }
            case ARGS -> {
                if (t == m.callEnd()) {
                    yield json.complete() ? Phase.AFTER_CALL : null;
                }
                yield stepJson(t) ? Phase.ARGS : null;
            }
            case AFTER_CALL -> t == m.sectionEnd() ? Phase.CLOSE : t == m.callBegin() && moreCalls ? Phase.NAME : null;
            case CLOSE -> t == m.imEnd() ? Phase.DONE : null;
            case DONE -> Phase.DONE;
        };
        if (next == null) {
            throw new IllegalStateException("token " + t + " is not allowed by the output constraint in " + phase);
        }
        if (next == Phase.NAME && phase != Phase.NAME) {
            nameLen = 0;
            ids = new CallIdLanguage(names, firstIndex + calls++);
        }
        phase = next;
    }

    private Phase content(int t) {
        if (t == m.sectionBegin()) {
            return sectionAllowed() ? Phase.CALL_BEGIN : null;
        }
        if (json == null) {
            if (callMarker(t)) {
                return null;
            }
            return m.isEnd(t) ? Phase.DONE : Phase.CONTENT;
        }
        if (t == m.imEnd()) {
            return json.complete() ? Phase.DONE : null;
        }
        contentStarted = true;
        return stepJson(t) ? Phase.CONTENT : null;
    }

    private boolean stepJson(int t) {
        if (t < 0 || t >= vocab.regularTokens()) {
            return false;
        }
        JsonMatcher next = json.step(vocab.bytes(t));
        if (next == null) {
            return false;
        }
        json = next;
        return true;
    }

    /** Leaves open the regular tokens the JSON state takes and, of the special ones, only {@code end}/{@code also}. */
    private void maskJson(float[] logits, int end, int also) {
        JsonVocabulary jv = vocab.json();
        if (bits == null) {
            bits = new long[(jv.regularTokens() + 63) >>> 6];
        } else {
            Arrays.fill(bits, 0L);
        }
        jv.allowed(json, bits);
        float endLogit = end >= 0 && end < logits.length ? logits[end] : Float.NEGATIVE_INFINITY;
        float alsoLogit = also >= 0 && also < logits.length ? logits[also] : Float.NEGATIVE_INFINITY;
        int regular = Math.min(jv.regularTokens(), logits.length);
        boolean any = false;
        for (int t = 0; t < regular; t++) {
            if ((bits[t >>> 6] >>> t & 1) == 0) {
                logits[t] = Float.NEGATIVE_INFINITY;
            } else {
                any = true;
            }
        }
        Arrays.fill(logits, regular, logits.length, Float.NEGATIVE_INFINITY);
        if (end >= 0 && end < logits.length) {
            logits[end] = endLogit == Float.NEGATIVE_INFINITY ? -Float.MAX_VALUE : endLogit;
            any = true;
        }
        if (also >= 0 && also < logits.length) {
            logits[also] = alsoLogit;
        }
        if (!any) {
            throw new IllegalStateException("the JSON grammar allows no token here (nesting limit reached?)");
        }
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

    /** The markers inside a tool section, which reasoning and free text never contain (the section opens first). */
    private boolean callMarker(int t) {
        return t == m.callBegin() || t == m.argumentBegin() || t == m.callEnd() || t == m.sectionEnd();
    }

    private void forbidCallMarkers(float[] logits) {
        forbid(logits, m.callBegin());
        forbid(logits, m.argumentBegin());
        forbid(logits, m.callEnd());
        forbid(logits, m.sectionEnd());
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
