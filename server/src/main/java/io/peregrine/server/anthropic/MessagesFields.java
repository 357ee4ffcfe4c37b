package io.peregrine.server.anthropic;

import com.fasterxml.jackson.databind.JsonNode;
import io.peregrine.server.http.ApiException;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Messages API fields this server recognises but does not implement: each changes what the model sees or
 * may do, so sending one is a 400 naming it rather than a reply that silently ignored it.
 */
public final class MessagesFields {
    private static final Map<String, String> UNSUPPORTED = Map.of(
            "mcp_servers", "mcp_servers (remote MCP tool servers) is not supported; declare the tools in 'tools'",
            "container", "container (code execution) is not supported",
            "context_management", "context_management (server-side clearing of the history) is not supported");

    /** Read from the request tree, not the record ({@link OutputFormat}): structured outputs, beta and GA shape. */
    private static final Set<String> READ_FROM_TREE = Set.of("output_format", "output_config");

    /** Names the unknown-field logger must not call "ignored". */
    public static final Set<String> RECOGNISED = Stream.concat(UNSUPPORTED.keySet().stream(), READ_FROM_TREE.stream())
            .collect(Collectors.toUnmodifiableSet());

    private MessagesFields() {}

    static void check(JsonNode tree) throws ApiException {
        for (Map.Entry<String, String> e : UNSUPPORTED.entrySet()) {
            JsonNode v = tree.get(e.getKey());
            if (v != null && !v.isNull() && !(v.isContainerNode() && v.isEmpty())) {
                throw ApiException.unsupported(e.getValue(), e.getKey());
            }
        }
    }
}
