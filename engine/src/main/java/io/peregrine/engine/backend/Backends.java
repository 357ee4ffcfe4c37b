package io.peregrine.engine.backend;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.logging.Logger;

/** Chooses a backend among the providers on the class path. */
public final class Backends {
    private static final Logger LOG = Logger.getLogger(Backends.class.getName());

    private Backends() {}

    public static List<BackendProvider> providers() {
        List<BackendProvider> all = new ArrayList<>();
        ServiceLoader.load(BackendProvider.class).forEach(all::add);
        all.sort(Comparator.comparingInt(BackendProvider::priority).reversed());
        return all;
    }

    /**
     * @param requested a provider name, or {@code auto} for the best usable one
     * @throws IllegalArgumentException when the requested backend is unknown or cannot run here
     */
    public static BackendProvider select(String requested) {
        List<BackendProvider> all = providers();
        if (!"auto".equals(requested)) {
            BackendProvider p = all.stream().filter(b -> b.name().equals(requested)).findFirst()
                    .orElseThrow(() -> new IllegalArgumentException("unknown backend '" + requested + "'; available: "
                            + all.stream().map(BackendProvider::name).toList()));
            p.unavailableReason().ifPresent(r -> {
                throw new IllegalArgumentException("backend '" + requested + "' cannot run here: " + r);
            });
            return p;
        }
        for (BackendProvider p : all) {
            Optional<String> why = p.unavailableReason();
            if (why.isEmpty()) {
                return p;
            }
            LOG.info(() -> "backend " + p.name() + " not used: " + why.get());
        }
        throw new IllegalStateException("no usable backend among " + all.stream().map(BackendProvider::name).toList());
    }
}
