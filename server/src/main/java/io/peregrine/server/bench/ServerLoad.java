package io.peregrine.server.bench;

import java.util.List;

/**
 * The three /metrics gauges that say whether a server is idle, each summed over its label sets (one per
 * served model, or per engine in a multi-engine vLLM). vLLM's names come first; NVIDIA NIM's unprefixed names,
 * vLLM's deprecated KV gauge and SGLang's names are read when vLLM's are absent, so the check works against
 * those servers too.
 *
 * @param names the metric names the three values were read from: running, waiting, KV usage
 */
public record ServerLoad(double running, double waiting, double kvCacheUsage, List<String> names) {
    static final String RUNNING = "vllm:num_requests_running";
    static final String WAITING = "vllm:num_requests_waiting";
    static final String KV = "vllm:kv_cache_usage_perc";
    private static final List<List<String>> ACCEPTED = List.of(
            List.of(RUNNING, "num_requests_running", "sglang:num_running_reqs"),
            List.of(WAITING, "num_requests_waiting", "sglang:num_queue_reqs"),
            List.of(KV, "vllm:gpu_cache_usage_perc", "gpu_cache_usage_perc", "sglang:token_usage"));

    public ServerLoad {
        names = List.copyOf(names);
    }

    /** Values under vLLM's names. */
    public ServerLoad(double running, double waiting, double kvCacheUsage) {
        this(running, waiting, kvCacheUsage, List.of(RUNNING, WAITING, KV));
    }

    /** Reads the gauges out of Prometheus text; a missing one is an error naming what was looked for. */
    public static ServerLoad parse(String prometheusText) {
        String[] lines = prometheusText.split("\n");
        double[] values = new double[3];
        String[] found = new String[3];
        for (int q = 0; q < 3; q++) {
            for (String name : ACCEPTED.get(q)) {
                Double sum = sum(lines, name);
                if (sum != null) {
                    values[q] = sum;
                    found[q] = name;
                    break;
                }
            }
            if (found[q] == null) {
                throw new IllegalArgumentException("/metrics has no sample of " + String.join(" or ", ACCEPTED.get(q))
                        + "; the idle check needs vLLM's gauge names");
            }
        }
        return new ServerLoad(values[0], values[1], values[2], List.of(found));
    }

    /** The sum of all samples of {@code name}, or null when there are none. */
    private static Double sum(String[] lines, String name) {
        Double sum = null;
        for (String line : lines) {
            if (line.startsWith("#") || !line.startsWith(name) || line.length() == name.length()) {
                continue;
            }
            String rest = line.substring(name.length());
            if (rest.startsWith("{")) {
                rest = rest.substring(rest.lastIndexOf('}') + 1); // label values may hold spaces
            } else if (!rest.startsWith(" ")) {
                continue; // a longer name that starts with this one
            }
            // name{labels} value [timestamp]
            double v = Double.parseDouble(rest.strip().split("\\s+")[0]);
            sum = sum == null ? v : sum + v;
        }
        return sum;
    }

    String runningName() {
        return names.get(0);
    }

    String waitingName() {
        return names.get(1);
    }

    String kvName() {
        return names.get(2);
    }

    @Override
    public String toString() {
        return String.format("running=%s waiting=%s kv_cache_usage=%.4f", fmt(running), fmt(waiting), kvCacheUsage);
    }

    private static String fmt(double v) {
        return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
    }
}
