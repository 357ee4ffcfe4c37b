package io.peregrine.server.wiring;

import io.peregrine.engine.runtime.EngineStats;
import io.peregrine.engine.runtime.EventSink;
import io.peregrine.engine.runtime.GenerationRequest;
import io.peregrine.engine.runtime.InferenceEngine;
import io.peregrine.engine.runtime.RejectedException;
import io.peregrine.engine.runtime.RequestHandle;

/**
 * The engine of a sharded model, which owns the worker ranks: closing it stops the engine thread first (the
 * communicator is that thread's), then the group, so a drained shutdown leaves no worker behind.
 */
final class GroupEngine implements InferenceEngine {
    private final InferenceEngine engine;
    private final ShardGroup group;

    GroupEngine(InferenceEngine engine, ShardGroup group) {
        this.engine = engine;
        this.group = group;
    }

    @Override
    public RequestHandle submit(GenerationRequest request, EventSink sink) throws RejectedException {
        return engine.submit(request, sink);
    }

    @Override
    public EngineStats stats() {
        return engine.stats();
    }

    @Override
    public int maxModelLen() {
        return engine.maxModelLen();
    }

    @Override
    public void drain(long timeoutMillis) throws InterruptedException {
        engine.drain(timeoutMillis);
    }

    @Override
    public void close() {
        try {
            engine.close();
        } finally {
            group.close();
        }
    }
}
