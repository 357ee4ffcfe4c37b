package io.peregrine.server.responses;

import com.fasterxml.jackson.databind.JsonNode;
import io.peregrine.api.responses.Response;
import io.peregrine.server.chat.ChatPlan;
import java.util.List;

/**
 * A validated Responses request: the chat plan it maps onto, and what the Responses side adds.
 *
 * @param chat        the same plan a chat request with this conversation would give (n = 1)
 * @param response    the response object in progress: id, echoed settings, empty output
 * @param items       the conversation as input items (stored ones first, no instructions): kept by the store so a
 *                    later {@code previous_response_id} continues from it
 * @param store       keep the finished response ({@code store}, default true)
 */
public record ResponsesPlan(ChatPlan chat, Response response, List<JsonNode> items, boolean store) {
    public ResponsesPlan {
        items = List.copyOf(items);
    }
}
