package io.peregrine.server.chat;

import com.fasterxml.jackson.databind.JsonNode;
import io.peregrine.server.http.ApiException;
import io.peregrine.server.prompt.ThinkingMode;
import java.util.Iterator;
import java.util.Locale;
import java.util.Set;

/**
 * Resolves every spelling of the thinking switch into one {@link ThinkingMode}:
 * <ul>
 *   <li>Moonshot: {@code thinking: {"type": "enabled"|"disabled", "keep": null|"all"}} (also a bare boolean);</li>
 *   <li>vLLM/SGLang: {@code chat_template_kwargs.thinking} and the Qwen spelling
 *       {@code chat_template_kwargs.enable_thinking}, as a boolean, a 0/1 number or a string;</li>
 *   <li>OpenAI: {@code reasoning_effort} ("none" turns thinking off, minimal/low/medium/high/xhigh/max leave it on;
 *   the Responses API's {@code reasoning.effort} is read by the same rule, under its own name).</li>
 * </ul>
 * Omitted means enabled (K2.5's default). Spellings that disagree are a 400, and so is sending
 * {@code thinking} together with {@code reasoning_effort}, as the Moonshot API does. Strings are parsed, not
 * treated as truthy, because Jinja would take {@code "false"} as true.
 */
public final class ThinkingResolver {
    private static final Set<String> EFFORTS_ON = Set.of("minimal", "low", "medium", "high", "xhigh", "max");

    private ThinkingResolver() {}

    public static ThinkingMode resolve(JsonNode thinking, JsonNode templateKwargs, String reasoningEffort)
            throws ApiException {
        return resolve(thinking, templateKwargs, reasoningEffort, "reasoning_effort");
    }

    /** @param effortField the client's name for the effort ({@code reasoning_effort}, {@code reasoning.effort}) */
    public static ThinkingMode resolve(JsonNode thinking, JsonNode templateKwargs, String reasoningEffort,
                                       String effortField) throws ApiException {
        Boolean decided = null;
        String decidedBy = null;
        String keep = null;
        boolean hasThinking = thinking != null && !thinking.isNull();
        if (hasThinking && reasoningEffort != null) {
            throw ApiException.invalid("Send either 'thinking' or '" + effortField + "', not both", effortField);
        }
        if (hasThinking) {
            if (thinking.isObject()) {
                for (Iterator<String> it = thinking.fieldNames(); it.hasNext(); ) {
                    String k = it.next();
                    if (k.equals("budget_tokens")) {
                        throw ApiException.unsupported("thinking.budget_tokens is not supported; chat completions "
                                + "cap the reasoning with thinking_token_budget", "thinking.budget_tokens");
                    }
                    if (!k.equals("type") && !k.equals("keep")) {
                        throw ApiException.invalid("Unknown field thinking." + k + " (expected type, keep)", "thinking." + k);
                    }
                }
                JsonNode type = thinking.get("type");
                if (type == null || !type.isTextual()) {
                    throw ApiException.invalid("thinking.type must be \"enabled\" or \"disabled\"", "thinking.type");
                }
                decided = switch (type.textValue()) {
                    case "enabled" -> true;
                    case "disabled" -> false;
                    default -> throw ApiException.invalid(
                            "thinking.type must be \"enabled\" or \"disabled\", got \"" + type.textValue() + "\"",
                            "thinking.type");
                };
                JsonNode keepNode = thinking.get("keep");
                if (keepNode != null && !keepNode.isNull()) {
                    if (!keepNode.isTextual() || !keepNode.textValue().equals("all")) {
                        throw ApiException.invalid("thinking.keep must be null or \"all\"", "thinking.keep");
                    }
                    keep = "all";
                }
            } else {
                decided = flag(thinking, "thinking");
            }
            decidedBy = "thinking";
        }
        if (templateKwargs != null && !templateKwargs.isNull()) {
            if (!templateKwargs.isObject()) {
                throw ApiException.invalid("chat_template_kwargs must be an object", "chat_template_kwargs");
            }
            for (String key : new String[] {"thinking", "enable_thinking"}) {
                JsonNode v = templateKwargs.get(key);
                if (v != null && !v.isNull()) {
                    String param = "chat_template_kwargs." + key;
                    boolean on = flag(v, param);
                    if (decided != null && decided != on) {
                        throw conflict(decidedBy, param);
                    }
                    decided = on;
                    decidedBy = param;
                }
            }
        }
        if (reasoningEffort != null) {
            String effort = reasoningEffort.toLowerCase(Locale.ROOT);
            boolean on;
            if (effort.equals("none")) {
                on = false;
            } else if (EFFORTS_ON.contains(effort)) {
                on = true;
            } else {
                throw ApiException.invalid(effortField + " must be one of none, minimal, low, medium, high, "
                        + "xhigh, max", effortField);
            }
            if (decided != null && decided != on) {
                throw conflict(decidedBy, effortField);
            }
            decided = on;
        }
        return new ThinkingMode(decided == null || decided, keep);
    }

    private static ApiException conflict(String a, String b) {
        return ApiException.invalid("'" + a + "' and '" + b + "' disagree about thinking mode", b);
    }

    /** A boolean, 0/1, or one of true/false/1/0/yes/no/on/off/enabled/disabled as a string. */
    static boolean flag(JsonNode v, String param) throws ApiException {
        if (v.isBoolean()) {
            return v.booleanValue();
        }
        if (v.isIntegralNumber() && (v.intValue() == 0 || v.intValue() == 1) && v.canConvertToInt()) {
            return v.intValue() == 1;
        }
        if (v.isTextual()) {
            switch (v.textValue().trim().toLowerCase(Locale.ROOT)) {
                case "true", "1", "yes", "on", "enabled" -> {
                    return true;
                }
                case "false", "0", "no", "off", "disabled" -> {
                    return false;
                }
                default -> { }
            }
        }
        throw ApiException.invalid(param + " must be a boolean", param);
    }
}
