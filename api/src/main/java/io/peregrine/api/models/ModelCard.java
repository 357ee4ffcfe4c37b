package io.peregrine.api.models;

/** One entry of {@code GET /v1/models}; {@code max_model_len} is vLLM's name for the context length. */
public record ModelCard(String id, String object, long created, String ownedBy, String root, int maxModelLen) {
    public ModelCard(String id, long created, String root, int maxModelLen) {
        this(id, "model", created, "peregrine", root, maxModelLen);
    }
}
