package io.peregrine.engine.shard;

/** What a tensor is for, as far as sharding and the capacity report care. */
public enum TensorRole {
    EMBEDDING("embedding + lm_head (split by vocabulary)"),
    ATTENTION_SPLIT("attention q_b/kv_b/o_proj (split by head)"),
    ATTENTION_REPLICATED("attention q_a/kv_a + norms (replicated)"),
    DENSE_MLP("dense MLP + shared experts (split by intermediate)"),
    ROUTER("routers (replicated)"),
    ROUTED_EXPERTS("routed experts"),
    NORMS("layer norms (replicated)"),
    VISION("vision tower + projector (replicated)");

    private final String label;

    TensorRole(String label) {
        this.label = label;
    }

    public String label() {
        return label;
    }
}
