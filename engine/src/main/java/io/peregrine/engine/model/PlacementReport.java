package io.peregrine.engine.model;

import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.config.ModelConfig;
import io.peregrine.engine.config.TextConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What a {@link ExpertPlacement} means for memory and traffic, for the start-up log and {@code peregrine plan}: which
 * routed experts of each layer live where (consecutive layers alike in one line), the stored bytes on each side, and
 * the expected weight bytes one decoded token reads from the host's DRAM and from the primary's memory (HBM).
 *
 * <p>Per token: everything on the primary but the routed experts is read once (of the embedding table, one row); an
 * expert is read with the probability the router picks it, {@code k / n_routed_experts} each, or by a routing
 * histogram's share ({@code k · count / layer total}). That is batch-one decode: in a batch an expert is read once for
 * all the rows routed to it, so the bytes per token fall with the batch.
 *
 * @param lines           the placement, one line per run of alike layers
 * @param primaryBytes    stored bytes on the primary (every weight but the host's experts)
 * @param hostBytes       stored bytes of the host's experts
 * @param dramPerToken    expected bytes a decoded token reads from the host's experts
 * @param hbmPerToken     expected bytes a decoded token reads from the primary's weights
 * @param byHistogram     whether the expert shares come from a routing histogram (else uniform)
 */
public record PlacementReport(List<String> lines, long primaryBytes, long hostBytes, double dramPerToken,
                              double hbmPerToken, boolean byHistogram) {

    public static PlacementReport of(ExpertPlacement placement, Checkpoint ck,
                                     ExpertPlacement.RoutingHistogram histogram) {
        return of(placement, ck.config().text(), ExpertPlacement.StoredBytes.of(ck, ck.config().text()), histogram);
    }

    /** From the config's tensor layout alone ({@code peregrine plan}). */
    public static PlacementReport of(ExpertPlacement placement, ModelConfig config,
                                     ExpertPlacement.RoutingHistogram histogram) {
        return of(placement, config.text(), ExpertPlacement.StoredBytes.of(config), histogram);
    }

    static PlacementReport of(ExpertPlacement placement, TextConfig c, ExpertPlacement.StoredBytes bytes,
                              ExpertPlacement.RoutingHistogram histogram) {
        int experts = c.nRoutedExperts();
        int k = c.numExpertsPerTok();
        long primary = bytes.fixed();
        long host = 0;
        double dram = 0;
        double hbm = bytes.fixed() - bytes.embedding() + (double) bytes.embedding() / Math.max(1, c.vocabSize());
        List<String> lines = new ArrayList<>();
        String run = null;
        int runFirst = 0;
        for (int l = 0; l <= c.numHiddenLayers(); l++) {
            String what = null;
            if (l < c.numHiddenLayers()) {
                if (!c.isMoeLayer(l)) {
                    what = "dense";
                } else {
                    int onHost = placement.hostExperts(l);
                    what = onHost == 0 ? experts + " experts on the primary"
                            : onHost == experts ? experts + " experts on the host"
                            : (experts - onHost) + " experts on the primary, " + onHost + " on the host";
                    long total = 0;
                    for (int e = 0; histogram != null && e < experts; e++) {
                        total += histogram.count(l, e);
                    }
                    for (int e = 0; e < experts; e++) {
                        double share = total > 0 ? (double) k * histogram.count(l, e) / total : (double) k / experts;
                        long b = bytes.expert()[l][e];
                        if (placement.onHost(l, e)) {
                            host += b;
                            dram += share * b;
                        } else {
                            primary += b;
                            hbm += share * b;
                        }
                    }
                }
            }
            if (run != null && !run.equals(what)) {
                int last = l - 1;
                lines.add((runFirst == last ? "layer " + runFirst : "layers " + runFirst + "-" + last) + ": " + run);
            }
            if (run == null || !run.equals(what)) {
                run = what;
                runFirst = l;
            }
        }
        return new PlacementReport(List.copyOf(lines), primary, host, dram, hbm, histogram != null);
    }

    /** The start-up log block / plan section. */
    public String render(ExpertPlacement placement) {
        StringBuilder out = new StringBuilder();
        out.append("MoE placement ").append(placement.mode().name().toLowerCase(Locale.ROOT)).append(": ")
                .append(gib(primaryBytes)).append(" of weights on the primary, ").append(gib(hostBytes))
                .append(" of routed experts on the host\n");
        for (String line : lines) {
            out.append("  ").append(line).append('\n');
        }
        out.append(String.format(Locale.ROOT, "  per decoded token (batch 1, %s routing): %.2f GB from host DRAM, "
                + "%.2f GB from the primary's memory%n", byHistogram ? "histogram" : "uniform", dramPerToken / 1e9,
                hbmPerToken / 1e9));
        return out.toString();
    }

    private static String gib(long bytes) {
        return String.format(Locale.ROOT, "%.2f GiB", bytes / (double) (1L << 30));
    }
}
