package io.peregrine.api.models;

import java.util.List;

public record ModelList(String object, List<ModelCard> data) {
    public ModelList(List<ModelCard> data) {
        this("list", data);
    }
}
