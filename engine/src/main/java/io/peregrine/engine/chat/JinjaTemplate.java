package io.peregrine.engine.chat;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Any {@code chat_template.jinja}, rendered by a real Jinja engine ({@link JinjaRuntime}: Hugging Face's
 * {@code @huggingface/jinja} on GraalJS) with the variables transformers' {@code apply_chat_template} passes:
 * {@code messages}, {@code tools}, {@code add_generation_prompt}, the tokenizer's special-token strings
 * ({@code bos_token}...), the client's {@code chat_template_kwargs}, and what Moonshot's tokenizer adds
 * ({@code tools_ts_str}, the TypeScript tool declaration, and the resolved {@code thinking} /
 * {@code preserve_thinking} switches). The engine itself provides {@code raise_exception}, {@code strftime_now},
 * {@code namespace}, {@code tojson}, slicing and loop controls.
 *
 * <p>Why this engine: Jinjava (HubSpot, 2.8.4 the newest on Maven Central, tried 2026-12) still cannot parse the
 * official template ({@code messages[:ns.last_non_tool_call_assistant_msg+1]}: "encountered '+', expected ']'"),
 * and Pebble-style engines are not Jinja (no {@code namespace}, Python slicing or {@code raise_exception}).
 * {@code @huggingface/jinja} is Hugging Face's own implementation of the chat-template subset of Jinja, kept
 * against transformers' behaviour, and renders every golden conversation byte-identically
 * ({@code JinjaTemplateTest}).
 *
 * <p>Messages reach the template after {@link HistoryRepair}, in OpenAI's dict shape: string content stays a
 * string, list content a list of {@code text} / {@code image_url} / {@code video_url} parts.
 *
 * <p>Caller text must not turn into template markers. The native renderer knows which characters came from the
 * caller; here the template is opaque, so every special-token-like string in caller data (and any private-use
 * character of planes 15-16, and U+F8FF, the float mark) is swapped for a private-use sentinel before rendering and swapped back afterwards,
 * each becoming a content span of the {@link RenderedPrompt}. A template that string-matches a marker inside
 * caller text (e.g. splits content on {@code </think>}) therefore sees the sentinel, not the marker.
 */
final class JinjaTemplate implements ChatTemplate {
    /** Superset of the Kimi tokenizer's special-token strings (checked against all 256 in the tests). */
    static final Pattern SPECIAL_TEXT = Pattern.compile(
            "<\\|[^|<>\\s]{1,80}\\|>|</?think>|\\[(?:BOS|EOS|EOT|UNK|PAD)\\]|[\\x{F0000}-\\x{10FFFF}\\x{F8FF}]");
    /** Prefixes a Python float's repr in the JSON the engine gets ({@link JinjaRuntime} turns it into a float). */
    static final char FLOAT_MARK = '\uF8FF';
    private static final int SENTINEL_BASE = 0xF0000;
    private static final int MAX_SENTINELS = 0x10FFFF - SENTINEL_BASE + 1;

    private final String source;
    private final String origin;
    private final JinjaRuntime runtime;
    private final Map<String, Object> specialTokens;

    private JinjaTemplate(String source, String origin, JinjaRuntime runtime, Map<String, Object> specialTokens) {
        this.source = source;
        this.origin = origin;
        this.runtime = runtime;
        this.specialTokens = specialTokens;
    }

    static JinjaTemplate compile(String source, String origin) {
        return compile(source, origin, JinjaRuntime.standard());
    }

    /** Parses the template now, so that a syntax error fails at startup rather than on the first request. */
    static JinjaTemplate compile(String source, String origin, JinjaRuntime runtime) {
        runtime.parse(source, origin);
        // The Kimi tokenizer's (tokenizer_config.json): what transformers adds as template variables.
        Map<String, Object> specials = Map.of("bos_token", "[BOS]", "eos_token", "[EOS]", "pad_token", "[PAD]",
                "unk_token", "[UNK]");
        return new JinjaTemplate(source, origin, runtime, specials);
    }

    @Override
    public String describe() {
        return "jinja " + origin;
    }

    @Override
    public RenderedPrompt renderTemplate(List<ChatMessage> messages, List<Tool> tools, RenderOptions options) {
        Guard guard = new Guard();
        Map<String, Object> vars = new LinkedHashMap<>(specialTokens);
        options.templateKwargs().forEach((k, v) -> vars.put(k, guard.guard(v)));
        vars.put("thinking", options.thinking());
        vars.put("preserve_thinking", options.preserveThinking());
        List<Object> msgs = new ArrayList<>(messages.size());
        int images = 0;
        int videos = 0;
        for (ChatMessage m : messages) {
            msgs.add(guard.guard(dict(m)));
            if (m.content() != null) {
                for (ContentPart p : m.content()) {
                    images += p instanceof ContentPart.Image ? 1 : 0;
                    videos += p instanceof ContentPart.Video ? 1 : 0;
                }
            }
        }
        vars.put("messages", msgs);
        if (tools != null && !tools.isEmpty()) {
            List<Object> dicts = new ArrayList<>(tools.size());
            for (Tool t : tools) {
                dicts.add(t.asDict());
            }
            Object sorted = PyJson.deepSort(dicts); // as Moonshot's tokenizer passes them
            vars.put("tools", guard.guard(sorted));
            String ts;
            try {
                ts = ToolDeclarationTs.encode((List<?>) sorted);
            } catch (IllegalArgumentException | ClassCastException e) {
                ts = "";
            }
            if (!ts.isEmpty()) {
                vars.put("tools_ts_str", guard.guard(ts));
            }
        }
        vars.put("add_generation_prompt", options.addGenerationPrompt());
        String out = runtime.render(source, PyJson.dumps(vars));
        return guard.restore(out, images, videos);
    }

    /** OpenAI's message dict, as {@code apply_chat_template} receives it. */
    static Map<String, Object> dict(ChatMessage m) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("role", m.role());
        d.put("content", content(m.content()));
        if (m.name() != null) d.put("name", m.name());
        if (m.reasoningContent() != null) d.put("reasoning_content", m.reasoningContent());
        if (m.reasoning() != null) d.put("reasoning", m.reasoning());
        if (m.hasToolCalls()) {
            List<Object> calls = new ArrayList<>();
            for (ToolCall c : m.toolCalls()) {
                Map<String, Object> fn = new LinkedHashMap<>();
                fn.put("name", c.name());
                fn.put("arguments", switch (c.arguments()) {
                    case ToolArguments.Text t -> t.json();
                    case ToolArguments.Value v -> v.value();
                });
                Map<String, Object> call = new LinkedHashMap<>();
                call.put("id", c.id());
                call.put("type", "function");
                call.put("function", fn);
                calls.add(call);
            }
            d.put("tool_calls", calls);
        }
        if (m.toolCallId() != null) d.put("tool_call_id", m.toolCallId());
        return d;
    }

    private static Object content(List<ContentPart> parts) {
        if (parts == null) {
            return null;
        }
        if (parts.size() == 1 && parts.getFirst() instanceof ContentPart.Text t) {
            return t.text();
        }
        List<Object> out = new ArrayList<>(parts.size());
        for (ContentPart p : parts) {
            Map<String, Object> d = new LinkedHashMap<>();
            switch (p) {
                case ContentPart.Text t -> {
                    d.put("type", "text");
                    d.put("text", t.text());
                }
                case ContentPart.Image i -> {
                    d.put("type", "image_url");
                    d.put("image_url", i.url() == null ? Map.of() : Map.of("url", i.url()));
                }
                case ContentPart.Video v -> {
                    d.put("type", "video_url");
                    d.put("video_url", v.url() == null ? Map.of() : Map.of("url", v.url()));
                }
                case ContentPart.Other o -> {
                    d.put("type", o.type());
                    if (o.text() != null) d.put("text", o.text());
                }
            }
            out.add(d);
        }
        return out;
    }

    /** Swaps special-token text in caller data for sentinels, and back in the output as content spans. */
    static final class Guard {
        private final List<String> originals = new ArrayList<>();

        Object guard(Object v) {
            return switch (v) {
                case String s -> guard(s);
                case Double d -> FLOAT_MARK + PyJson.floatRepr(d);
                case Float f -> FLOAT_MARK + PyJson.floatRepr(f);
                case Map<?, ?> m -> {
                    Map<Object, Object> out = new LinkedHashMap<>();
                    m.forEach((k, x) -> out.put(k instanceof String s ? guard(s) : k, guard(x)));
                    yield out;
                }
                case List<?> l -> {
                    List<Object> out = new ArrayList<>(l.size());
                    l.forEach(x -> out.add(guard(x)));
                    yield out;
                }
                case null, default -> v;
            };
        }

        String guard(String s) {
            Matcher m = SPECIAL_TEXT.matcher(s);
            if (!m.find()) {
                return s;
            }
            StringBuilder sb = new StringBuilder(s.length());
            int from = 0;
            do {
                if (originals.size() == MAX_SENTINELS) {
                    throw new IllegalArgumentException("too many special-token strings in the conversation");
                }
                sb.append(s, from, m.start()).appendCodePoint(SENTINEL_BASE + originals.size());
                originals.add(m.group());
                from = m.end();
            } while (m.find());
            return sb.append(s, from, s.length()).toString();
        }

        RenderedPrompt restore(String out, int images, int videos) {
            if (originals.isEmpty()) {
                return new RenderedPrompt(out, new int[0], images, videos);
            }
            StringBuilder sb = new StringBuilder(out.length() + 16 * originals.size());
            List<Integer> spans = new ArrayList<>();
            for (int i = 0; i < out.length(); ) {
                int cp = out.codePointAt(i);
                int k = cp - SENTINEL_BASE;
                if (k >= 0 && k < originals.size()) {
                    int start = sb.length();
                    sb.append(originals.get(k));
                    if (!spans.isEmpty() && spans.getLast() == start) {
                        spans.set(spans.size() - 1, sb.length());
                    } else {
                        spans.add(start);
                        spans.add(sb.length());
                    }
                } else {
                    sb.appendCodePoint(cp);
                }
                i += Character.charCount(cp);
            }
            return new RenderedPrompt(sb.toString(), spans.stream().mapToInt(Integer::intValue).toArray(), images,
                    videos);
        }
    }
}
