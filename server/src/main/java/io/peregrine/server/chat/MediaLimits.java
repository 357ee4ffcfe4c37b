package io.peregrine.server.chat;

/** Most media items one request may carry, by kind (vLLM's --limit-mm-per-prompt). */
public record MediaLimits(int images, int videos) {
    public MediaLimits {
        if (images < 0 || videos < 0) {
            throw new IllegalArgumentException("media limits must be >= 0");
        }
    }
}
