package io.peregrine.engine.chat;

import java.util.Locale;
import java.util.Map;

/**
 * One thinking on/off decision from every spelling clients use. The result drives both the template (prompt ends
 * with {@code <think>} or {@code <think></think>}) and the output parser (start in reasoning or in content).
 *
 * <p>Spellings: {@code thinking: {type: enabled|disabled}} (Moonshot API), {@code chat_template_kwargs.thinking}
 * (vLLM/SGLang), {@code chat_template_kwargs.enable_thinking} and top-level {@code enable_thinking} (Qwen-style
 * clients), each a boolean or a boolean-like string. Default: on. Two spellings that disagree are an error rather
 * than a silent pick, because either choice would surprise one of the client's intentions.
 */
public final class ThinkingSwitch {
    private ThinkingSwitch() {}

    /**
     * @param thinking           the request's {@code thinking} field (map with {@code type}, or boolean), or null
     * @param chatTemplateKwargs {@code chat_template_kwargs}, or null
     * @param enableThinking     top-level {@code enable_thinking}, or null
     */
    public static boolean resolve(Object thinking, Map<String, ?> chatTemplateKwargs, Object enableThinking) {
        return resolve(thinking, chatTemplateKwargs, enableThinking, null);
    }

    /**
     * As {@link #resolve(Object, Map, Object)}, plus OpenAI's {@code reasoning_effort}: {@code "none"} turns
     * thinking off, any other level (low, medium, high, max...) on; Kimi K2.5 has no effort levels.
     */
    public static boolean resolve(Object thinking, Map<String, ?> chatTemplateKwargs, Object enableThinking,
                                  String reasoningEffort) {
        Map<String, ?> kw = chatTemplateKwargs == null ? Map.of() : chatTemplateKwargs;
        String[] fields = {"chat_template_kwargs.thinking", "chat_template_kwargs.enable_thinking", "thinking.type",
                "enable_thinking", "reasoning_effort"};
        Boolean effort = reasoningEffort == null ? null : !reasoningEffort.strip().equalsIgnoreCase("none");
        Boolean[] votes = {flag(kw.get("thinking"), fields[0]), flag(kw.get("enable_thinking"), fields[1]),
                thinkingField(thinking), flag(enableThinking, fields[3]), effort};
        Boolean result = null;
        String from = null;
        for (int i = 0; i < votes.length; i++) {
            if (votes[i] == null) {
                continue;
            }
            if (result == null) {
                result = votes[i];
                from = fields[i];
            } else if (!result.equals(votes[i])) {
                throw new IllegalArgumentException(from + " turns thinking " + (result ? "on" : "off") + " but "
                        + fields[i] + " turns it " + (votes[i] ? "on" : "off"));
            }
        }
        return result == null || result;
    }

    /** K2.6's {@code chat_template_kwargs.preserve_thinking}; default off. */
    public static boolean preserveThinking(Map<String, ?> chatTemplateKwargs) {
        return preserveThinking(null, chatTemplateKwargs);
    }

    /**
     * Keep the reasoning of every earlier turn: {@code chat_template_kwargs.preserve_thinking} or Moonshot's
     * {@code thinking.keep: "all"} ({@code keep: null} means off). Only the K2.6 template honours it.
     */
    public static boolean preserveThinking(Object thinking, Map<String, ?> chatTemplateKwargs) {
        Boolean b = chatTemplateKwargs == null ? null
                : flag(chatTemplateKwargs.get("preserve_thinking"), "chat_template_kwargs.preserve_thinking");
        if (b != null && b) {
            return true;
        }
        if (thinking instanceof Map<?, ?> m && m.get("keep") != null) {
            Object keep = m.get("keep");
            if (!"all".equals(keep)) {
                throw new IllegalArgumentException("thinking.keep must be \"all\" or null, got " + PyJson.dumps(keep));
            }
            return true;
        }
        return false;
    }

    private static Boolean thinkingField(Object thinking) {
        if (thinking == null) {
            return null;
        }
        if (thinking instanceof Map<?, ?> m) {
            Object type = m.get("type");
            if (type == null) {
                throw new IllegalArgumentException("thinking.type is missing (expected \"enabled\" or \"disabled\")");
            }
            return switch (String.valueOf(type).toLowerCase(Locale.ROOT)) {
                case "enabled" -> true;
                case "disabled" -> false;
                default -> throw new IllegalArgumentException(
                        "thinking.type must be \"enabled\" or \"disabled\", got \"" + type + "\"");
            };
        }
        return flag(thinking, "thinking");
    }

    /** A boolean or boolean-like string; null when absent. */
    static Boolean flag(Object v, String field) {
        if (v == null) {
            return null;
        }
        if (v instanceof Boolean b) {
            return b;
        }
        if (v instanceof String s) {
            switch (s.trim().toLowerCase(Locale.ROOT)) {
                case "true", "1", "yes", "on", "enabled" -> {
                    return true;
                }
                case "false", "0", "no", "off", "disabled" -> {
                    return false;
                }
                default -> { }
            }
        }
        if (v instanceof Number n && (n.doubleValue() == 0 || n.doubleValue() == 1)) {
            return n.doubleValue() == 1;
        }
        throw new IllegalArgumentException(field + " must be true or false, got " + PyJson.dumps(v));
    }
}
