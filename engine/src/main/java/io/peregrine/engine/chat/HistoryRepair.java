package io.peregrine.engine.chat;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Normalises the conversation histories real agents send, so that they render the way the model was trained,
 * instead of failing the request:
 * <ul>
 *   <li>{@code reasoning} (alias) and inline {@code <think>…</think>} at the start of an assistant's content become
 *       {@code reasoning_content} (the template then keeps or drops it as it always does);</li>
 *   <li>tool-call arguments sent as objects stay objects (rendered with Python's json.dumps like the reference);
 *       double-encoded JSON strings are decoded once; empty arguments become {@code {}};</li>
 *   <li>tool-call ids that are not {@code functions.NAME:IDX} (ids from other models or clients) are rewritten with
 *       the conversation-wide call index, and the {@code tool_call_id}s of the matching tool messages with them;
 *       a tool message without a {@code tool_call_id} answers the next unanswered call;</li>
 *   <li>a tool message without {@code name} gets the called function's name;</li>
 *   <li>OpenAI's {@code developer} role becomes {@code system} (Kimi was never trained on a developer header).</li>
 * </ul>
 */
public final class HistoryRepair {
    private static final Pattern CANONICAL_ID = Pattern.compile("functions\\.(.+):(\\d+)");
    private static final ObjectMapper JSON = new ObjectMapper();

    private HistoryRepair() {}

    public static List<ChatMessage> repair(List<ChatMessage> messages) {
        Set<String> taken = new HashSet<>();
        for (ChatMessage m : messages) {
            for (ToolCall c : m.toolCalls()) {
                if (isCanonical(c)) {
                    taken.add(c.id());
                }
            }
        }
        List<ChatMessage> out = new ArrayList<>(messages.size());
        Map<String, ToolCall> idMap = new HashMap<>(); // client id -> rewritten call (latest assistant wins)
        Deque<ToolCall> unanswered = new ArrayDeque<>();
        int callIndex = 0;
        for (ChatMessage m : messages) {
            if (m.role().equals("developer")) {
                m = new ChatMessage("system", m.content(), m.name(), m.reasoningContent(), m.reasoning(),
                        m.toolCalls(), m.toolCallId());
            }
            if (m.role().equals("assistant")) {
                m = repairReasoning(m);
                if (m.hasToolCalls()) {
                    List<ToolCall> calls = new ArrayList<>();
                    unanswered.clear();
                    for (ToolCall c : m.toolCalls()) {
                        String id = c.id();
                        if (!isCanonical(c)) {
                            int idx = callIndex;
                            String candidate;
                            while (taken.contains(candidate = "functions." + c.name() + ":" + idx)) {
                                idx++;
                            }
                            taken.add(candidate);
                            id = candidate;
                        }
                        ToolCall fixed = new ToolCall(id, c.name(), repairArguments(c.arguments()));
                        if (!c.id().isEmpty()) {
                            idMap.put(c.id(), fixed);
                        }
                        idMap.put(id, fixed);
                        calls.add(fixed);
                        unanswered.add(fixed);
                        callIndex++;
                    }
                    m = m.withToolCalls(calls);
                }
            } else if (m.role().equals("tool")) {
                String tcid = m.toolCallId();
                ToolCall answered = tcid == null || tcid.isEmpty() ? unanswered.peekFirst() : idMap.get(tcid);
                if (answered != null) {
                    unanswered.remove(answered);
                    m = m.withToolCallId(answered.id());
                    if (m.name() == null || m.name().isEmpty()) {
                        m = m.withName(answered.name());
                    }
                }
            }
            out.add(m);
        }
        return out;
    }

    static boolean isCanonical(ToolCall c) {
        Matcher m = CANONICAL_ID.matcher(c.id());
        return m.matches() && m.group(1).equals(c.name());
    }

    private static ChatMessage repairReasoning(ChatMessage m) {
        String rc = m.reasoningContent() != null ? m.reasoningContent() : m.reasoning();
        List<ContentPart> content = m.content();
        if (content != null && !content.isEmpty() && content.get(0) instanceof ContentPart.Text first) {
            String t = first.text();
            String lead = t.stripLeading();
            int close = lead.indexOf("</think>");
            if (lead.startsWith("<think>") && close >= 0) {
                String inline = lead.substring("<think>".length(), close);
                if (rc == null || rc.isEmpty()) {
                    rc = inline;
                }
                List<ContentPart> rest = new ArrayList<>(content);
                rest.set(0, new ContentPart.Text(lead.substring(close + "</think>".length())));
                content = rest;
            }
        }
        return m.withContent(content).withReasoning(rc, null);
    }

    static ToolArguments repairArguments(ToolArguments a) {
        if (a instanceof ToolArguments.Value v && v.value() instanceof String s) {
            a = new ToolArguments.Text(s);
        }
        if (!(a instanceof ToolArguments.Text t)) {
            return a;
        }
        String text = t.json();
        if (text.isBlank()) {
            return new ToolArguments.Text("{}");
        }
        // Double-encoded: a JSON string whose value is itself JSON object/array text.
        for (int depth = 0; depth < 3 && text.strip().startsWith("\""); depth++) {
            try {
                JsonNode n = JSON.readTree(text);
                if (!n.isTextual()) {
                    break;
                }
                String inner = n.textValue().strip();
                if (!(inner.startsWith("{") || inner.startsWith("["))) {
                    break;
                }
                JSON.readTree(inner);
                text = inner;
            } catch (JsonProcessingException e) {
                break;
            }
        }
        return new ToolArguments.Text(text);
    }
}
