package io.peregrine.engine.model;

import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.checkpoint.CheckpointLayout;
import io.peregrine.engine.checkpoint.Tensor;
import io.peregrine.engine.checkpoint.TensorSpec;
import io.peregrine.engine.config.ModelConfig;
import io.peregrine.engine.config.TextConfig;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * Which routed experts of each MoE layer live on the host backend rather than the primary one (issue 20: one GPU
 * for attention, the router and the shared expert; the routed experts that do not fit it in the host's DRAM). The
 * dense layers, attention, the router, the shared expert, the embedding and the lm_head always stay on the primary.
 * {@code host[l]} is empty for a dense layer.
 */
public record ExpertPlacement(Mode mode, List<BitSet> host) {

    /** {@code --moe-placement}: all routed experts on the primary, all on the host, or what fits a budget. */
    public enum Mode {
        GPU, CPU, AUTO, CUSTOM;

        /** The flag's value, {@code gpu|cpu|auto}. */
        public static Mode parse(String s) {
            return switch (s) {
                case "gpu" -> GPU;
                case "cpu" -> CPU;
                case "auto" -> AUTO;
                default -> throw new IllegalArgumentException("--moe-placement must be gpu, cpu or auto, got '" + s + "'");
            };
        }
    }

    public ExpertPlacement {
        host = host.stream().map(b -> (BitSet) b.clone()).toList();
    }

    /** Every routed expert on the primary ({@code gpu}): the model runs as on one backend. */
    public static ExpertPlacement primary(TextConfig c) {
        return new ExpertPlacement(Mode.GPU, sets(c.numHiddenLayers()));
    }

    /** Every routed expert of every MoE layer on the host ({@code cpu}). */
    public static ExpertPlacement host(TextConfig c) {
        List<BitSet> host = sets(c.numHiddenLayers());
        for (int l = 0; l < c.numHiddenLayers(); l++) {
            if (c.isMoeLayer(l)) {
                host.get(l).set(0, c.nRoutedExperts());
            }
        }
        return new ExpertPlacement(Mode.CPU, host);
    }

    /** A placement given expert by expert ({@code onHost[l][e]}); dense layers must have none. */
    public static ExpertPlacement of(TextConfig c, boolean[][] onHost) {
        if (onHost.length != c.numHiddenLayers()) {
            throw new IllegalArgumentException(onHost.length + " layers, the model has " + c.numHiddenLayers());
        }
        List<BitSet> host = sets(c.numHiddenLayers());
        for (int l = 0; l < onHost.length; l++) {
            int experts = c.isMoeLayer(l) ? c.nRoutedExperts() : 0;
            for (int e = 0; e < onHost[l].length; e++) {
                if (onHost[l][e]) {
                    if (e >= experts) {
                        throw new IllegalArgumentException("layer " + l + " has no routed expert " + e);
                    }
                    host.get(l).set(e);
                }
            }
        }
        return new ExpertPlacement(Mode.CUSTOM, host);
    }

    /**
     * {@code auto}: every weight but the routed experts on the primary, then routed experts on the primary while
     * their stored bytes fit {@code primaryBudget}, the rest on the host. The order is deterministic: by routing
     * count descending when {@code histogram} is given (the experts most tokens use read from HBM), then by layer and
     * expert id. Fails when the non-expert weights alone exceed the budget.
     */
    public static ExpertPlacement auto(Checkpoint ck, long primaryBudget, RoutingHistogram histogram) {
        return auto(ck.config().text(), StoredBytes.of(ck, ck.config().text()), primaryBudget, histogram);
    }

    /** {@link #auto(Checkpoint, long, RoutingHistogram)} from the config's tensor layout alone ({@code peregrine plan}). */
    public static ExpertPlacement auto(ModelConfig config, long primaryBudget, RoutingHistogram histogram) {
        return auto(config.text(), StoredBytes.of(config), primaryBudget, histogram);
    }

    private static ExpertPlacement auto(TextConfig c, StoredBytes bytes, long primaryBudget, RoutingHistogram histogram) {
        if (bytes.fixed() > primaryBudget) {
            throw new IllegalArgumentException("the weights other than routed experts need " + bytes.fixed()
                    + " bytes, more than the primary budget of " + primaryBudget);
        }
        if (histogram != null && histogram.counts().length != c.numHiddenLayers()) {
            throw new IllegalArgumentException("routing histogram has " + histogram.counts().length
                    + " layers, the model has " + c.numHiddenLayers());
        }
        List<int[]> order = new ArrayList<>();
        for (int l = 0; l < c.numHiddenLayers(); l++) {
            if (c.isMoeLayer(l)) {
                for (int e = 0; e < c.nRoutedExperts(); e++) {
                    order.add(new int[] {l, e});
                }
            }
        }
        if (histogram != null) {
            order.sort(Comparator.comparingLong((int[] le) -> -histogram.count(le[0], le[1])));
        }
        List<BitSet> host = sets(c.numHiddenLayers());
        long left = primaryBudget - bytes.fixed();
        boolean full = false;
        for (int[] le : order) {
            long need = bytes.expert()[le[0]][le[1]];
            // once one expert does not fit, the rest go to the host too: the order, not the sizes, decides
            if (!full && need <= left) {
                left -= need;
            } else {
                full = true;
                host.get(le[0]).set(le[1]);
            }
        }
        return new ExpertPlacement(Mode.AUTO, host);
    }

    /** Copies: the placement is immutable. */
    @Override
    public List<BitSet> host() {
        return host.stream().map(b -> (BitSet) b.clone()).toList();
    }

    public boolean onHost(int layer, int expert) {
        return host.get(layer).get(expert);
    }

    /** How many of layer {@code l}'s routed experts live on the host. */
    public int hostExperts(int layer) {
        return host.get(layer).cardinality();
    }

    /**
     * The config's tensor layout less the routed experts this placement puts on the host: what the primary holds
     * ({@code peregrine plan} sizes the GPU by it).
     */
    public List<TensorSpec> primaryTensors(ModelConfig config) {
        TextConfig c = config.text();
        StoredBytes.Experts names = new StoredBytes.Experts(c, CheckpointLayout.textPrefix(config));
        List<TensorSpec> out = new ArrayList<>();
        for (TensorSpec t : CheckpointLayout.of(config)) {
            int[] le = names.expert(t.name());
            if (le == null || !onHost(le[0], le[1])) {
                out.add(t);
            }
        }
        return out;
    }

    /** Whether any expert lives on the host (else the model needs no host backend). */
    public boolean usesHost() {
        return host.stream().anyMatch(b -> !b.isEmpty());
    }

    /**
     * How often each layer's routed experts were chosen ({@code counts[l][e]}), from a warm-up or a previous run: the
     * order in which {@link #auto} keeps experts on the primary. On disk ({@link #write}, {@link #read}) it is text:
     * a comment line, then one line per layer of space-separated counts (zeros, or none, for a dense layer).
     */
    public record RoutingHistogram(long[][] counts) {
        long count(int layer, int expert) {
            long[] row = counts[layer];
            return row == null || expert >= row.length ? 0 : row[expert];
        }

        /** The counts of both, layer by layer (this run's added to an earlier run's file). */
        public RoutingHistogram plus(RoutingHistogram other) {
            if (other.counts.length != counts.length) {
                throw new IllegalArgumentException("routing histograms of " + counts.length + " and "
                        + other.counts.length + " layers");
            }
            long[][] sum = new long[counts.length][];
            for (int l = 0; l < counts.length; l++) {
                long[] a = counts[l] == null ? new long[0] : counts[l];
                long[] b = other.counts[l] == null ? new long[0] : other.counts[l];
                sum[l] = new long[Math.max(a.length, b.length)];
                for (int e = 0; e < sum[l].length; e++) {
                    sum[l][e] = (e < a.length ? a[e] : 0) + (e < b.length ? b[e] : 0);
                }
            }
            return new RoutingHistogram(sum);
        }

        /** Writes the file (through a temporary file in the same directory, then a rename). */
        public void write(java.nio.file.Path file) throws java.io.IOException {
            StringBuilder out = new StringBuilder("# peregrine routing histogram: rows routed to each expert, one line "
                    + "per layer\n");
            for (long[] row : counts) {
                for (int e = 0; row != null && e < row.length; e++) {
                    out.append(e == 0 ? "" : " ").append(row[e]);
                }
                out.append('\n');
            }
            java.nio.file.Path abs = file.toAbsolutePath();
            java.nio.file.Path tmp = java.nio.file.Files.createTempFile(abs.getParent(), ".routing", ".tmp");
            java.nio.file.Files.writeString(tmp, out);
            java.nio.file.Files.move(tmp, abs, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        }

        /** Reads a file {@link #write} wrote; a malformed one is an error naming the file and line. */
        public static RoutingHistogram read(java.nio.file.Path file) throws java.io.IOException {
            List<long[]> rows = new ArrayList<>();
            int n = 0;
            for (String line : java.nio.file.Files.readAllLines(file)) {
                n++;
                if (line.startsWith("#")) {
                    continue;
                }
                String t = line.trim();
                String[] parts = t.isEmpty() ? new String[0] : t.split("\\s+");
                long[] row = new long[parts.length];
                for (int e = 0; e < parts.length; e++) {
                    try {
                        row[e] = Long.parseLong(parts[e]);
                    } catch (NumberFormatException ex) {
                        row[e] = -1;
                    }
                    if (row[e] < 0) {
                        throw new IllegalArgumentException(file + " line " + n + ": '" + parts[e]
                                + "' is not a count");
                    }
                }
                rows.add(row);
            }
            return new RoutingHistogram(rows.toArray(long[][]::new));
        }
    }

    /**
     * Stored bytes of the text weights: the routed experts one by one, everything else in one sum ({@code fixed}),
     * of which {@code embedding} is the embedding table (a token reads one row of it).
     */
    record StoredBytes(long fixed, long[][] expert, long embedding) {
        static StoredBytes of(Checkpoint ck, TextConfig c) {
            String root = ck.has("language_model.model.embed_tokens.weight") ? "language_model." : "";
            TextWeightBytes all = TextWeightBytes.of(ck, root, c.numHiddenLayers());
            Experts experts = new Experts(c, root);
            for (Map.Entry<String, Tensor> t : ck.tensors().entrySet()) {
                experts.add(t.getKey(), t.getValue().data().byteSize());
            }
            return new StoredBytes(all.total() - experts.total, experts.bytes,
                    ck.tensor(root + "model.embed_tokens.weight").data().byteSize());
        }

        /** From the config's tensor layout (the checkpoint as it would be stored). */
        static StoredBytes of(ModelConfig config) {
            TextConfig c = config.text();
            String root = CheckpointLayout.textPrefix(config);
            Experts experts = new Experts(c, root);
            long text = 0;
            long embedding = 0;
            for (TensorSpec t : CheckpointLayout.of(config)) {
                if (!t.isVision()) {
                    text += t.byteSize();
                    experts.add(t.name(), t.byteSize());
                    embedding += t.name().equals(root + "model.embed_tokens.weight") ? t.byteSize() : 0;
                }
            }
            return new StoredBytes(text - experts.total, experts.bytes, embedding);
        }

        /** Routed expert tensors by layer and expert, from their names. */
        private static final class Experts {
            final long[][] bytes;
            final String prefix;
            final TextConfig c;
            long total;

            Experts(TextConfig c, String root) {
                this.c = c;
                this.prefix = root + "model.layers.";
                this.bytes = new long[c.numHiddenLayers()][c.nRoutedExperts()];
            }

            void add(String name, long b) {
                int[] le = expert(name);
                if (le != null) {
                    bytes[le[0]][le[1]] += b;
                    total += b;
                }
            }

            /** {@code {layer, expert}} of a routed expert's tensor, else null. */
            int[] expert(String name) {
                int at = name.indexOf(".mlp.experts.");
                if (!name.startsWith(prefix) || at < 0) {
                    return null;
                }
                int l = Integer.parseInt(name.substring(prefix.length(), at));
                String rest = name.substring(at + ".mlp.experts.".length());
                int e = Integer.parseInt(rest.substring(0, rest.indexOf('.')));
                return l < c.numHiddenLayers() && e < c.nRoutedExperts() ? new int[] {l, e} : null;
            }
        }
    }

    private static List<BitSet> sets(int layers) {
        List<BitSet> s = new ArrayList<>(layers);
        for (int l = 0; l < layers; l++) {
            s.add(new BitSet());
        }
        return s;
    }
}
