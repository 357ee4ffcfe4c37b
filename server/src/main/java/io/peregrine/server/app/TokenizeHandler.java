package io.peregrine.server.app;

import io.peregrine.api.chat.ChatCompletionRequest;
import io.peregrine.api.tokenize.DetokenizeRequest;
import io.peregrine.api.tokenize.DetokenizeResponse;
import io.peregrine.api.tokenize.TokenCountResponse;
import io.peregrine.api.tokenize.TokenizeRequest;
import io.peregrine.api.tokenize.TokenizeResponse;
import io.peregrine.server.chat.ChatPlan;
import io.peregrine.server.chat.ChatRequestMapper;
import io.peregrine.server.chat.Generation;
import io.peregrine.server.chat.LogprobsMapper;
import io.peregrine.server.chat.PlanBuilder;
import io.peregrine.server.chat.ThinkingResolver;
import io.peregrine.server.http.ApiException;
import io.peregrine.server.http.JsonBodies;
import io.peregrine.server.prompt.ChatInput;
import io.peregrine.server.prompt.ThinkingMode;
import io.peregrine.server.prompt.ToolChoice;
import io.peregrine.server.serving.EndpointContext;
import io.peregrine.server.serving.ModelRuntime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** vLLM's {@code POST /tokenize} and {@code POST /detokenize}; Moonshot's token count estimate. */
public final class TokenizeHandler {
    private final EndpointContext endpoint;
    private final PlanBuilder plans;
    private final ChatRequestMapper chat;

    /**
     * @param plans validates a conversation exactly as a chat completion would
     * @param chat  reads a chat completion request, for the token count estimate
     */
    public TokenizeHandler(EndpointContext endpoint, PlanBuilder plans, ChatRequestMapper chat) {
        this.endpoint = endpoint;
        this.plans = plans;
        this.chat = chat;
    }

    public TokenizeResponse tokenize(byte[] body) throws ApiException {
        ModelRuntime rt = endpoint.serving();
        TokenizeRequest r = endpoint.read(body, TokenizeRequest.class).value();
        PlanBuilder.resolveModel(r.model(), rt.servedModelNames());
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
            List<io.peregrine.api.chat.Tool> tools = plans.validateConversation(r.messages(), r.tools());
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
            ids = Generation.countPrompt(rt, input).tokenIds();
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
        ModelRuntime rt = endpoint.serving();
        JsonBodies.Parsed<ChatCompletionRequest> parsed = endpoint.read(body, ChatCompletionRequest.class);
        ChatPlan plan = chat.map(parsed.value(), parsed.tree(), rt.servedModelNames());
        return TokenCountResponse.of(Generation.countPrompt(rt, plan.input()).length());
    }

    public DetokenizeResponse detokenize(byte[] body) throws ApiException {
        ModelRuntime rt = endpoint.serving();
        DetokenizeRequest r = endpoint.read(body, DetokenizeRequest.class).value();
        PlanBuilder.resolveModel(r.model(), rt.servedModelNames());
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
