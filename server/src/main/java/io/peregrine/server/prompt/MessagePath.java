package io.peregrine.server.prompt;

import java.util.List;

/**
 * Where one message of a plan's conversation sits in the client's own request, so that an error about the message
 * or one of its content parts names what the client sent: {@code messages[3]} in chat; {@code input[2]},
 * {@code instructions} or {@code previous_response_id} in the Responses API, whose messages merge several items;
 * in Anthropic Messages a turn's blocks, which split into several messages.
 *
 * @param message the message's path
 * @param parts   the path of each content part, or null when part k is {@code message.content[k]}
 */
public record MessagePath(String message, List<String> parts) {

    public MessagePath {
        parts = parts == null ? null : List.copyOf(parts);
    }

    public static MessagePath of(String message) {
        return new MessagePath(message, null);
    }

    /** Chat's paths for n messages: {@code messages[i]}. */
    public static List<MessagePath> chat(int n) {
        List<MessagePath> out = new java.util.ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            out.add(of("messages[" + i + "]"));
        }
        return out;
    }

    /** A field of the message, e.g. {@code .role}. */
    public String field(String name) {
        return message + "." + name;
    }

    /** The path of content part k. */
    public String part(int k) {
        return parts == null ? message + ".content[" + k + "]" : parts.get(k);
    }
}
