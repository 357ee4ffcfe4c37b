package io.peregrine.engine.chat;

import java.util.List;

/**
 * Partial mode (assistant prefill): the final assistant message is a prefix the model continues. Moonshot's
 * {@code "partial": true}, vLLM's {@code continue_final_message} and Anthropic's trailing assistant message all mean
 * this; the response then holds only the continuation.
 *
 * <ul>
 *   <li>A prefix with content renders like transformers' {@code continue_final_message}: the whole conversation
 *       without a generation prompt, cut right after the final message's content (so the template decides the
 *       header, {@code name} included, and drops the closing {@code <|im_end|>}). The output continues the answer.</li>
 *   <li>A prefix without content but with {@code reasoning_content}, or whose content opens {@code <think>} without
 *       closing it, continues the reasoning: the template's generation prompt (which ends in {@code <think>} when
 *       thinking is on) followed by the reasoning text.
 *       Under a Kimi template the last plain assistant turn is history, whose reasoning the template drops, so
 *       rendering the message itself could never leave the prompt inside {@code <think>}.</li>
 *   <li>No content and no reasoning: the ordinary generation prompt.</li>
 * </ul>
 * {@link #continuesReasoning} tells the output parser which state the continuation starts in.
 */
public final class AssistantPrefill {
    private AssistantPrefill() {}

    /** What the final message gives the model to continue: reasoning so far, and answer so far. */
    record Prefix(String reasoning, String content) {
        static Prefix of(ChatMessage last) {
            String text = last.text();
            String lead = text.stripLeading();
            if (lead.startsWith("<think>") && !lead.contains("</think>")) {
                return new Prefix(lead.substring("<think>".length()), "");
            }
            return new Prefix(last.reasoningContent() == null ? "" : last.reasoningContent(), text);
        }
    }

    static RenderedPrompt render(ChatTemplate template, List<ChatMessage> messages, List<Tool> tools,
                                 RenderOptions options) {
        ChatMessage last = messages.getLast();
        Prefix prefix = check(last, options.thinking());
        if (prefix.content().isEmpty()) {
            RenderedPrompt prompt = template.renderTemplate(messages.subList(0, messages.size() - 1), tools,
                    options.withGenerationPrompt(true));
            return prompt.appendContent(prefix.reasoning());
        }
        RenderedPrompt full = template.renderTemplate(messages, tools, options.withGenerationPrompt(false));
        return full.truncate(cut(full.text(), prefix.content()));
    }

    /**
     * Where transformers' {@code apply_chat_template(continue_final_message=True)} cuts: after the last occurrence
     * of the final message's stripped text, keeping its trailing whitespace only where the template kept it.
     */
    static int cut(String rendered, String content) {
        String stripped = content.strip();
        int at = rendered.lastIndexOf(stripped);
        if (at < 0) {
            throw new IllegalArgumentException("the final assistant message does not appear in the rendered chat "
                    + "template, so it cannot be continued");
        }
        String left = content.stripLeading();
        boolean keptSpacing = rendered.startsWith(content, at) && content.length() == left.length();
        return at + (keptSpacing ? left.length() : stripped.length());
    }

    /**
     * Whether the final (history-repaired) message leaves the model inside its reasoning: thinking on and no answer
     * text yet. The server's output parser starts from this.
     */
    public static boolean continuesReasoning(ChatMessage last, boolean thinking) {
        return thinking && Prefix.of(last).content().isEmpty();
    }

    private static Prefix check(ChatMessage last, boolean thinking) {
        if (!last.role().equals("assistant")) {
            throw new IllegalArgumentException("partial mode continues the final message, which must be an assistant "
                    + "message (got role '" + last.role() + "')");
        }
        if (last.hasToolCalls()) {
            throw new IllegalArgumentException("a partial assistant message cannot carry tool_calls");
        }
        if (last.content() != null && last.content().stream().anyMatch(p -> !(p instanceof ContentPart.Text))) {
            throw new IllegalArgumentException("a partial assistant message can only hold text");
        }
        Prefix prefix = Prefix.of(last);
        if (prefix.content().isEmpty() && !prefix.reasoning().isEmpty() && !thinking) {
            throw new IllegalArgumentException("a partial assistant message with only reasoning continues the "
                    + "reasoning, which needs thinking on");
        }
        if (prefix.content().isEmpty() && last.name() != null && !last.name().isEmpty()) {
            throw new IllegalArgumentException("a partial assistant message with a name needs content to continue");
        }
        return prefix;
    }
}
