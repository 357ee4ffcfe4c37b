package io.peregrine.server.http;

/** Decides max_tokens against the context length, with OpenAI's wording when it does not fit. */
public final class ContextCheck {
    private ContextCheck() {}

    /**
     * @param requested the client's max tokens, or null: then everything the context has left (vLLM's default)
     */
    public static int maxTokens(Integer requested, int promptTokens, int maxModelLen, String param) throws ApiException {
        if (promptTokens >= maxModelLen) {
            throw ApiException.invalid("This model's maximum context length is " + maxModelLen + " tokens. However, "
                    + "your prompt is " + promptTokens + " tokens, leaving no room for a completion.", "messages");
        }
        if (requested == null) {
            return maxModelLen - promptTokens;
        }
        if ((long) promptTokens + requested > maxModelLen) {
            throw ApiException.invalid("This model's maximum context length is " + maxModelLen + " tokens. However, "
                    + "you requested " + ((long) promptTokens + requested) + " tokens (" + promptTokens
                    + " in the prompt, " + requested + " for the completion). Please reduce the prompt or the "
                    + "completion length.", param);
        }
        return requested;
    }
}
