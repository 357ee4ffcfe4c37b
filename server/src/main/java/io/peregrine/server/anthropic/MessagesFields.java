package io.peregrine.server.anthropic;

import com.fasterxml.jackson.databind.JsonNode;
import io.peregrine.server.http.ApiException;
import java.util.Map;
import java.util.Set;

/**
 * Messages API fields this server recognises but does not implement: each changes what the model sees or
 * may do, so sending one is a 400 naming it rather than a reply that silently ignored it.
 */
public final class MessagesFields {
    private static final Map<String, String> UNSUPPORTED = Map.of(
            "mcp_servers", "mcp_servers (remote MCP tool servers) is not supported; declare the tools in 'tools'",
            "container", "container (code execution) is not supported",
            "context_management", "context_management (server-side clearing of the history) is not supported",
            "output_format", "output_format (structured outputs) is not supported yet",
            "output_config", "output_config is not supported yet");

    /** Names the unknown-field logger must not call "ignored". */
    public static final Set<String> RECOGNISED = UNSUPPORTED.keySet();

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
