package io.peregrine.server.wiring;

import io.peregrine.engine.backend.Backend;
import io.peregrine.engine.model.ExpertPlacement;
import io.peregrine.engine.model.KimiTextModel;
import io.peregrine.engine.runtime.EngineStats;
import io.peregrine.engine.runtime.EventSink;
import io.peregrine.engine.runtime.GenerationRequest;
import io.peregrine.engine.runtime.InferenceEngine;
import io.peregrine.engine.runtime.RejectedException;
import io.peregrine.engine.runtime.RequestHandle;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The engine of a model whose routed experts are partly on the host backend (issue 20), which owns that backend:
 * closing it stops the engine thread first, then writes the routing histogram ({@code --moe-routing-histogram}: this
 * run's counts added to the file's, for the next start's {@code auto} placement), then closes the host backend.
 */
final class HybridEngine implements InferenceEngine {
    private static final Logger LOG = Logger.getLogger(HybridEngine.class.getName());

    private final InferenceEngine engine;
    private final KimiTextModel model;
    private final Backend host;
    private final Path histogram;

    /** @param histogram the file to add this run's routing counts to on close, or null */
    HybridEngine(InferenceEngine engine, KimiTextModel model, Backend host, Path histogram) {
        this.engine = engine;
        this.model = model;
        this.host = host;
        this.histogram = histogram;
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
            if (histogram != null) {
                writeHistogram();
            }
        } finally {
            host.close();
        }
    }

    /** Adds this run's counts to the file's (a file from another model is replaced, with a warning). */
    private void writeHistogram() {
        ExpertPlacement.RoutingHistogram counts = model.routingHistogram();
        try {
            if (Files.exists(histogram)) {
                try {
                    counts = counts.plus(ExpertPlacement.RoutingHistogram.read(histogram));
                } catch (IllegalArgumentException e) {
                    LOG.warning("replacing the routing histogram " + histogram + ": " + e.getMessage());
                }
            }
            counts.write(histogram);
            long rows = 0;
            for (long[] layer : counts.counts()) {
                for (long c : layer) {
                    rows += c;
                }
            }
            LOG.info("routing histogram written to " + histogram + " (" + rows + " routed rows in all)");
        } catch (IOException e) {
            LOG.log(Level.WARNING, "could not write the routing histogram " + histogram, e);
        }
    }
}
