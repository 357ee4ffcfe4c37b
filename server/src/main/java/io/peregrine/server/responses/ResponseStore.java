package io.peregrine.server.responses;

import com.fasterxml.jackson.databind.JsonNode;
import io.peregrine.api.responses.OutputItem;
import io.peregrine.api.responses.Response;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Finished responses kept for {@code GET /v1/responses/{id}} and {@code previous_response_id}: in memory, the
 * least recently used dropped past {@code capacity} (a restart forgets them all; clients that need durable history
 * send it in {@code input}, as Codex does). Thread-safe: responses are put from event loops and read from request
 * threads.
 */
public final class ResponseStore {

    /**
     * @param items the conversation before this response's output, as input items (no instructions: OpenAI does not
     *              carry them over to a continuation)
     */
    public record Stored(Response response, List<JsonNode> items) {
        public Stored {
            items = List.copyOf(items);
        }
    }

    private final int capacity;
    private final Map<String, Stored> byId;

    /** @param capacity most responses kept; 0 keeps none (then previous_response_id always fails) */
    public ResponseStore(int capacity) {
        if (capacity < 0) {
            throw new IllegalArgumentException("the response store capacity must be >= 0, got " + capacity);
        }
        this.capacity = capacity;
        this.byId = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, Stored> eldest) {
                return size() > ResponseStore.this.capacity;
            }
        };
    }

    public int capacity() {
        return capacity;
    }

    /** Why an id may be missing, for error messages. */
    public String retention() {
        return capacity == 0 ? "this server stores no responses (--responses-store-size 0)"
                : "responses are kept in memory, the last " + capacity + " only";
    }

    public synchronized void put(Stored stored) {
        if (capacity > 0) {
            byId.put(stored.response().id(), stored);
        }
    }

    /** @return null when unknown, dropped or deleted */
    public synchronized Stored get(String id) {
        return byId.get(id);
    }

    /** @return whether it was there */
    public synchronized boolean remove(String id) {
        return byId.remove(id) != null;
    }

    /**
     * An output item of a stored response by its id ({@code rs_}/{@code msg_}/{@code fc_} + the response id's
     * suffix + {@code _} + its output index, as {@link OutputAssembler} names them); null when not stored.
     */
    public synchronized OutputItem item(String itemId) {
        int first = itemId.indexOf('_');
        int last = itemId.lastIndexOf('_');
        if (first < 0 || last <= first) {
            return null;
        }
        Stored s = byId.get("resp_" + itemId.substring(first + 1, last));
        if (s == null) {
            return null;
        }
        int index;
        try {
            index = Integer.parseInt(itemId.substring(last + 1));
        } catch (NumberFormatException e) {
            return null;
        }
        List<OutputItem> output = s.response().output();
        return index >= 0 && index < output.size() && output.get(index).id().equals(itemId) ? output.get(index) : null;
    }

    public synchronized int size() {
        return byId.size();
    }
}
