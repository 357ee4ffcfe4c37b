package io.peregrine.server.http;

import io.peregrine.api.chat.ChatCompletionRequest;
import io.peregrine.api.tokenize.DetokenizeRequest;
import io.peregrine.api.tokenize.DetokenizeResponse;
import io.peregrine.api.tokenize.TokenizeRequest;
import io.peregrine.api.tokenize.TokenCountResponse;
import io.peregrine.api.tokenize.TokenizeResponse;
import io.peregrine.server.chat.ChatHandler;
import io.peregrine.server.chat.ChatInput;
import io.peregrine.server.chat.ChatPlan;
import io.peregrine.server.chat.ChatRequestMapper;
import io.peregrine.server.chat.LogprobsMapper;
import io.peregrine.server.chat.ThinkingMode;
import io.peregrine.server.chat.ThinkingResolver;
import io.peregrine.server.chat.ToolChoice;
import io.peregrine.server.serving.ModelRuntime;
import io.peregrine.server.serving.ServingState;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** vLLM's {@code POST /tokenize} and {@code POST /detokenize}; Moonshot's token count estimate. */
public final class TokenizeHandler {
    private final ServingState state;
    private final JsonBodies bodies;
    private final ChatRequestMapper chat;

    /** @param chat validates a conversation exactly as a chat completion would */
    public TokenizeHandler(ServingState state, JsonBodies bodies, ChatRequestMapper chat) {
        this.state = state;
        this.bodies = bodies;
        this.chat = chat;
    }

    public TokenizeResponse tokenize(byte[] body) throws ApiException {
        ModelRuntime rt = state.requireServing();
        TokenizeRequest r = bodies.read(body, TokenizeRequest.class).value();
        ChatRequestMapper.resolveModel(r.model(), rt.servedModelNames());
        int[] ids;
        if ((r.prompt() == null) == (r.messages() == null)) {
            throw ApiException.invalid("Send exactly one of 'prompt' and 'messages'", "prompt");
        }
        if (r.prompt() != null) {
            ids = rt.codec().encode(r.prompt(), r.addSpecialTokens() == null || r.addSpecialTokens());
        } else {
            if (Boolean.TRUE.equals(r.addSpecialTokens())) {
                throw ApiException.unsupported("add_special_tokens: true applies to 'prompt' only; with 'messages' the "
                        + "chat template places the special tokens", "add_special_tokens");
            }
            List<io.peregrine.api.chat.Tool> tools = chat.validateConversation(r.messages(), r.tools());
            ThinkingMode thinking = ThinkingResolver.resolve(null, r.chatTemplateKwargs(), null);
            ToolChoice choice = tools.isEmpty() ? ToolChoice.NONE : ToolChoice.AUTO;
            boolean continueFinal = Boolean.TRUE.equals(r.continueFinalMessage())
                    || Boolean.TRUE.equals(r.messages().getLast().partial());
            if (continueFinal && Boolean.TRUE.equals(r.addGenerationPrompt())) {
                throw ApiException.invalid("continue_final_message and add_generation_prompt cannot both be true",
                        "continue_final_message");
            }
            ChatInput input = new ChatInput(r.messages(), tools, choice, thinking, r.chatTemplateKwargs(),
                    !continueFinal && (r.addGenerationPrompt() == null || r.addGenerationPrompt()), continueFinal);
            ids = ChatHandler.renderForCounting(rt, input).tokenIds();
        }
        List<Integer> tokens = Arrays.stream(ids).boxed().toList();
        List<String> strs = null;
        if (Boolean.TRUE.equals(r.returnTokenStrs())) {
            LogprobsMapper m = new LogprobsMapper(rt.codec());
            strs = new ArrayList<>(ids.length);
            for (int id : ids) {
                strs.add(m.token(id));
            }
        }
        return new TokenizeResponse(ids.length, rt.engine().maxModelLen(), tokens, strs);
    }

    /**
     * Moonshot's {@code POST /v1/tokenizers/estimate-token-count}: the body is read as a chat completion request
     * (Moonshot documents {@code model} and {@code messages}; tools and the thinking switch change the prompt too)
     * and validated and rendered exactly as {@code /v1/chat/completions} would, so the count is the
     * {@code prompt_tokens} that request would be billed, vision tokens included. Nothing is generated.
     */
    public TokenCountResponse estimateTokenCount(byte[] body) throws ApiException {
        ModelRuntime rt = state.requireServing();
        JsonBodies.Parsed<ChatCompletionRequest> parsed = bodies.read(body, ChatCompletionRequest.class);
        ChatPlan plan = chat.map(parsed.value(), parsed.tree(), rt.servedModelNames());
        return TokenCountResponse.of(ChatHandler.renderForCounting(rt, plan.input()).length());
    }

    public DetokenizeResponse detokenize(byte[] body) throws ApiException {
        ModelRuntime rt = state.requireServing();
        DetokenizeRequest r = bodies.read(body, DetokenizeRequest.class).value();
        ChatRequestMapper.resolveModel(r.model(), rt.servedModelNames());
        if (r.tokens() == null) {
            throw ApiException.invalid("'tokens' is required", "tokens");
        }
        int vocab = rt.codec().vocabSize();
        int[] ids = new int[r.tokens().size()];
        for (int i = 0; i < ids.length; i++) {
            Integer t = r.tokens().get(i);
            if (t == null || t < 0 || t >= vocab) {
                throw ApiException.invalid("tokens[" + i + "] must be a token id in [0, " + vocab + ")", "tokens[" + i + "]");
            }
            ids[i] = t;
        }
        return new DetokenizeResponse(rt.codec().decode(ids));
    }
}
