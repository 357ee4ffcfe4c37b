package io.peregrine.server.serving;

import io.peregrine.engine.runtime.InferenceEngine;
import io.peregrine.server.prompt.ChatPromptBuilder;
import io.peregrine.server.text.TextCodec;
import java.util.List;

/**
 * Everything the HTTP layer needs from a loaded model.
 *
 * @param servedModelNames the names clients may send as {@code model}; the first is the one responses report
 * @param root             the checkpoint directory (reported by /v1/models)
 */
public record ModelRuntime(
        List<String> servedModelNames,
        String root,
        InferenceEngine engine,
        TextCodec codec,
        ChatPromptBuilder prompts) {

    public ModelRuntime {
        servedModelNames = List.copyOf(servedModelNames);
        if (servedModelNames.isEmpty()) {
            throw new IllegalArgumentException("at least one served model name is required");
        }
    }

    public String primaryName() {
        return servedModelNames.getFirst();
    }
}
