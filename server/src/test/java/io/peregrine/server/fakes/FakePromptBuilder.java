package io.peregrine.server.fakes;

import io.peregrine.api.chat.ChatMessage;
import io.peregrine.server.prompt.ChatInput;
import io.peregrine.server.prompt.ChatPrompt;
import io.peregrine.server.prompt.ChatPromptBuilder;
import io.peregrine.server.prompt.InvalidPromptException;
import io.peregrine.server.prompt.OutputSpec;

/**
 * Renders "role: text" lines through {@link ByteCodec} and remembers the last input it saw. The output spec is
 * not enforced (the scripted engines behind this builder choose their own tokens); it only sets where the
 * {@link MarkerParser} that splits their output starts.
 */
public final class FakePromptBuilder implements ChatPromptBuilder {
    public volatile ChatInput last;
    private final ByteCodec codec = new ByteCodec();

    @Override
    public ChatPrompt build(ChatInput input, OutputSpec output) throws InvalidPromptException {
        return build(input).withParser(() -> new MarkerParser(output));
    }

    @Override
    public ChatPrompt build(ChatInput input) throws InvalidPromptException {
        last = input;
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < input.messages().size(); i++) {
            ChatMessage m = input.messages().get(i);
            String text = m.content() == null || m.content().isNull() ? "" : m.content().isTextual()
                    ? m.content().textValue() : m.content().toString();
            if (m.content() != null && m.content().isArray()) {
                for (int j = 0; j < m.content().size(); j++) {
                    String type = m.content().get(j).path("type").asText();
                    if (!type.equals("text")) {
                        // as the real builder answers for a checkpoint without a vision tower
                        throw new InvalidPromptException("image, video and file inputs are not supported: this model "
                                + "has no vision tower", input.partPath(i, j));
                    }
                }
            }
            if (text.equals("UNRENDERABLE")) {
                throw new InvalidPromptException("cannot render message " + i, input.paths().get(i).field("content"));
            }
            sb.append(m.role()).append(": ").append(text).append('\n');
        }
        return new ChatPrompt(codec.encode(sb.toString(), false));
    }
}
