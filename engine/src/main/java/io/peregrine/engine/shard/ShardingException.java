package io.peregrine.engine.shard;

/** A model that the requested ranks cannot shard, with the counts that do not divide. */
public final class ShardingException extends RuntimeException {
    public ShardingException(String message) {
        super(message);
    }
}
