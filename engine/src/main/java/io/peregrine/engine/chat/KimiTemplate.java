package io.peregrine.engine.chat;

import java.util.ArrayList;
import java.util.List;

/**
 * Renders a conversation the way Moonshot's {@code apply_chat_template} does with the checkpoint's own
 * {@code chat_template.jinja}: tools deep-sorted and declared in TypeScript, then the template's message loop.
 *
 * <p>The fast path for the templates it knows (K2.5 and K2.6 official, the K2.5 reconstruction): their exact
 * semantics implemented here, with no interpreter in the way. Every other template goes to {@link JinjaTemplate};
 * {@code JinjaTemplateTest} checks that both give the same text for every golden conversation.
 */
final class KimiTemplate implements ChatTemplate {
    static final String IMAGE_PLACEHOLDER = "<|media_begin|>image<|media_content|><|media_pad|><|media_end|>\n";
    static final String VIDEO_PLACEHOLDER = "<|kimi_k25_video_placeholder|>\n";
    /** Only the reconstructed template adds it; the official K2.5 and K2.6 templates add no system prompt. */
    static final String DEFAULT_SYSTEM_PROMPT = "You are Kimi, an AI assistant created by Moonshot AI.";

    private final TemplateVariant variant;

    KimiTemplate(TemplateVariant variant) {
        this.variant = variant;
    }

    public TemplateVariant variant() {
        return variant;
    }

    @Override
    public String describe() {
        return "native " + variant;
    }

    @Override
    public RenderedPrompt renderTemplate(List<ChatMessage> messages, List<Tool> tools, RenderOptions options) {
        boolean k26 = variant == TemplateVariant.K26_OFFICIAL;
        boolean preserve = k26 && options.preserveThinking();
        int lastPlain = -1; // last assistant message without tool calls: it and all before are "history"
        if (!preserve) {
            for (int i = messages.size() - 1; i >= 0; i--) {
                ChatMessage m = messages.get(i);
                if (m.role().equals("assistant") && !m.hasToolCalls()) {
                    lastPlain = i;
                    break;
                }
            }
        }
        Out out = new Out();
        if (tools != null && !tools.isEmpty()) {
            declareTools(out, tools);
        }
        if (variant == TemplateVariant.K25_RECONSTRUCTED && !messages.getFirst().role().equals("system")) {
            out.markup("<|im_system|>system<|im_middle|>" + DEFAULT_SYSTEM_PROMPT + "<|im_end|>");
        }
        for (int i = 0; i < messages.size(); i++) {
            ChatMessage m = messages.get(i);
            header(out, m);
            if (m.role().equals("assistant")) {
                boolean history = i <= lastPlain;
                boolean noReasoning = history || (!options.thinking() && !preserve);
                if (noReasoning) {
                    out.markup("<think></think>");
                } else {
                    String rc = k26 && m.reasoning() != null ? m.reasoning() : m.reasoningContent();
                    out.markup("<think>");
                    out.content(rc == null ? "" : rc);
                    out.markup("</think>");
                }
                content(out, m);
                if (m.hasToolCalls()) {
                    toolCalls(out, m.toolCalls());
                }
            } else if (m.role().equals("tool")) {
                out.markup("## Return of ");
                out.content(m.toolCallId() == null ? "" : m.toolCallId());
                out.markup("\n");
                content(out, m);
            } else {
                content(out, m);
            }
            out.markup("<|im_end|>");
        }
        if (options.addGenerationPrompt()) {
            out.markup("<|im_assistant|>assistant<|im_middle|>");
            out.markup(options.thinking() ? "<think>" : "<think></think>");
        }
        return out.build();
    }

    private static void declareTools(Out out, List<Tool> tools) {
        List<Object> dicts = new ArrayList<>();
        for (Tool t : tools) {
            dicts.add(t.asDict());
        }
        Object sorted = PyJson.deepSort(dicts);
        String ts;
        try {
            ts = ToolDeclarationTs.encode((List<?>) sorted);
        } catch (IllegalArgumentException | ClassCastException e) {
            ts = ""; // the reference falls back to JSON when the TypeScript encoder fails
        }
        out.markup("<|im_system|>tool_declare<|im_middle|>");
        out.content(ts.isEmpty() ? PyJson.dumps(sorted, ",", ":") : ts);
        out.markup("<|im_end|>");
    }

    private static void header(Out out, ChatMessage m) {
        String role = m.role();
        String marker = switch (role) {
            case "user" -> "<|im_user|>";
            case "assistant" -> "<|im_assistant|>";
            default -> "<|im_system|>";
        };
        out.markup(marker);
        out.content(m.name() != null && !m.name().isEmpty() ? m.name() : role);
        out.markup("<|im_middle|>");
    }

    private static void content(Out out, ChatMessage m) {
        if (m.content() == null) {
            return;
        }
        for (ContentPart p : m.content()) {
            switch (p) {
                case ContentPart.Text t -> out.content(t.text());
                case ContentPart.Image i -> {
                    out.markup(IMAGE_PLACEHOLDER);
                    out.images++;
                }
                case ContentPart.Video v -> {
                    out.markup(VIDEO_PLACEHOLDER);
                    out.videos++;
                }
                case ContentPart.Other o -> out.content(o.text() == null ? "" : o.text());
            }
        }
    }

    private static void toolCalls(Out out, List<ToolCall> calls) {
        out.markup("<|tool_calls_section_begin|>");
        for (ToolCall c : calls) {
            out.markup("<|tool_call_begin|>");
            out.content(c.id());
            out.markup("<|tool_call_argument_begin|>");
            out.content(switch (c.arguments()) {
                case ToolArguments.Text t -> t.json();
                case ToolArguments.Value v -> PyJson.dumps(v.value());
            });
            out.markup("<|tool_call_end|>");
        }
        out.markup("<|tool_calls_section_end|>");
    }

    /** Builds the text and remembers which ranges came from the caller. */
    private static final class Out {
        final StringBuilder sb = new StringBuilder();
        final List<Integer> spans = new ArrayList<>();
        int images;
        int videos;

        void markup(String s) {
            sb.append(s);
        }

        void content(String s) {
            if (s.isEmpty()) {
                return;
            }
            int start = sb.length();
            sb.append(s);
            int n = spans.size();
            if (n > 0 && spans.get(n - 1) == start) {
                spans.set(n - 1, sb.length()); // merge with the previous adjacent span
            } else {
                spans.add(start);
                spans.add(sb.length());
            }
        }

        RenderedPrompt build() {
            int[] s = new int[spans.size()];
            for (int i = 0; i < s.length; i++) {
                s[i] = spans.get(i);
            }
            return new RenderedPrompt(sb.toString(), s, images, videos);
        }
    }
}
