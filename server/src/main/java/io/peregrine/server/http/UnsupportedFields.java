package io.peregrine.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.function.Predicate;

/**
 * Request fields that this server recognises but does not implement. Sending one with a value that would
 * change the result is a 400 naming it: a silently dropped {@code logit_bias} or {@code guided_json}
 * produces wrong output that looks right, which users rate worse than an error.
 */
public final class UnsupportedFields {

    private record Rule(String field, Predicate<JsonNode> active, String message) {}

    private static final Predicate<JsonNode> PRESENT = v -> !v.isNull();
    private static final Predicate<JsonNode> TRUE = v -> v.isBoolean() && v.booleanValue();
    private static final Predicate<JsonNode> FALSE = v -> v.isBoolean() && !v.booleanValue();
    private static final Predicate<JsonNode> NON_ZERO = v -> !v.isNull() && !(v.isNumber() && v.doubleValue() == 0);
    private static final Predicate<JsonNode> NON_EMPTY = v -> !v.isNull() && !(v.isContainerNode() && v.isEmpty());
    private static final Predicate<JsonNode> ABOVE_ONE = v -> !v.isNull() && !(v.isNumber() && v.intValue() <= 1);
    private static final Predicate<JsonNode> ABOVE_ZERO = v -> !v.isNull() && !(v.isNumber() && v.intValue() <= 0);

    private static final List<Rule> SHARED = List.of(
            new Rule("logit_bias", NON_EMPTY, "logit_bias is not supported"),
            new Rule("guided_json", PRESENT, "guided decoding (guided_json) is not supported; send the schema as "
                    + "response_format {\"type\": \"json_schema\", \"json_schema\": {\"schema\": ...}}"),
            new Rule("guided_regex", PRESENT, "guided decoding (guided_regex) is not supported"),
            new Rule("guided_choice", PRESENT, "guided decoding (guided_choice) is not supported"),
            new Rule("guided_grammar", PRESENT, "guided decoding (guided_grammar) is not supported"),
            new Rule("structured_outputs", PRESENT, "structured_outputs is not supported; JSON output is "
                    + "response_format json_object or json_schema"),
            new Rule("min_tokens", ABOVE_ZERO, "min_tokens is not supported"),
            new Rule("best_of", ABOVE_ONE, "best_of > 1 is not supported"),
            new Rule("use_beam_search", TRUE, "beam search is not supported"),
            new Rule("include_stop_str_in_output", TRUE, "include_stop_str_in_output is not supported"),
            new Rule("prompt_logprobs", PRESENT, "prompt_logprobs is not supported"),
            // vLLM extensions that change the prompt, the output or isolation; ignoring them would look like success.
            new Rule("guided_decoding_backend", PRESENT, "guided decoding is not supported"),
            new Rule("guided_whitespace_pattern", PRESENT, "guided decoding is not supported"),
            new Rule("bad_words", NON_EMPTY, "bad_words is not supported"),
            new Rule("allowed_token_ids", NON_EMPTY, "allowed_token_ids is not supported"),
            new Rule("logits_processors", NON_EMPTY, "logits_processors is not supported"),
            new Rule("truncate_prompt_tokens", PRESENT, "truncate_prompt_tokens is not supported; shorten the prompt"),
            new Rule("skip_special_tokens", FALSE, "skip_special_tokens: false is not supported"),
            new Rule("spaces_between_special_tokens", FALSE, "spaces_between_special_tokens: false is not supported"),
            new Rule("return_tokens_as_token_ids", TRUE, "return_tokens_as_token_ids is not supported"),
            new Rule("cache_salt", PRESENT, "cache_salt (per-tenant prefix cache isolation) is not supported"),
            new Rule("kv_transfer_params", PRESENT, "kv_transfer_params (disaggregated serving) is not supported"),
            new Rule("priority", NON_ZERO, "request priorities are not supported"),
            new Rule("length_penalty", v -> !v.isNull() && !(v.isNumber() && v.doubleValue() == 1.0),
                    "length_penalty applies to beam search, which is not supported"));

    private static final List<Rule> CHAT_ONLY = List.of(
            new Rule("functions", PRESENT, "the deprecated 'functions' field is not supported; use 'tools'"),
            new Rule("function_call", PRESENT, "the deprecated 'function_call' field is not supported; use 'tool_choice'"),
            new Rule("audio", PRESENT, "audio output is not supported"),
            new Rule("modalities",
                    v -> !v.isNull() && !(v.isArray() && v.size() == 1 && "text".equals(v.get(0).asText())),
                    "only the \"text\" output modality is supported"),
            new Rule("prediction", PRESENT, "predicted outputs are not supported"),
            new Rule("web_search_options", PRESENT, "web search is not supported"),
            new Rule("echo", TRUE, "echo is not supported for chat completions"),
            new Rule("chat_template", PRESENT, "a custom chat_template is not supported; the checkpoint's template is used"),
            new Rule("documents", NON_EMPTY, "documents (RAG inputs to the chat template) are not supported"),
            new Rule("add_special_tokens", TRUE,
                    "add_special_tokens: true is not supported for chat; the chat template places the special tokens"),
            new Rule("mm_processor_kwargs", NON_EMPTY, "mm_processor_kwargs is not supported"));

    private static final List<Rule> COMPLETIONS_ONLY = List.of(
            new Rule("echo", TRUE, "echo is not supported"),
            new Rule("suffix", PRESENT, "suffix is not supported"));

    /** The fields {@link #checkChat} has a rule for: the body reader must not call them "ignored". */
    public static final Set<String> CHAT_FIELDS = fields(SHARED, CHAT_ONLY);
    /** The fields {@link #checkCompletions} has a rule for. */
    public static final Set<String> COMPLETIONS_FIELDS = fields(SHARED, COMPLETIONS_ONLY);

    private UnsupportedFields() {}

    @SafeVarargs
    private static Set<String> fields(List<Rule>... lists) {
        return Stream.of(lists).flatMap(List::stream).map(Rule::field).collect(Collectors.toUnmodifiableSet());
    }

    public static void checkChat(JsonNode body) throws ApiException {
        check(body, SHARED);
        check(body, CHAT_ONLY);
    }

    public static void checkCompletions(JsonNode body) throws ApiException {
        check(body, SHARED);
        check(body, COMPLETIONS_ONLY);
    }

    private static void check(JsonNode body, List<Rule> rules) throws ApiException {
        for (Rule r : rules) {
            JsonNode v = body.get(r.field());
            if (v != null && r.active().test(v)) {
                throw ApiException.unsupported(r.message(), r.field());
            }
        }
    }
}
