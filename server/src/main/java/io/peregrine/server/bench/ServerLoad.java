package io.peregrine.server.bench;

/**
 * The three /metrics gauges that say whether a server is idle, each summed over its label sets (one per
 * served model, or per engine in a multi-engine vLLM).
 */
public record ServerLoad(double running, double waiting, double kvCacheUsage) {
    static final String RUNNING = "vllm:num_requests_running";
    static final String WAITING = "vllm:num_requests_waiting";
    static final String KV = "vllm:kv_cache_usage_perc";

    /** Reads the gauges out of Prometheus text; a missing one is an error naming it. */
    public static ServerLoad parse(String prometheusText) {
        double[] sums = new double[3];
        boolean[] seen = new boolean[3];
        String[] names = {RUNNING, WAITING, KV};
        for (String line : prometheusText.split("\n")) {
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            for (int i = 0; i < names.length; i++) {
                if (!line.startsWith(names[i]) || line.length() == names[i].length()) {
                    continue;
                }
                String rest = line.substring(names[i].length());
                if (rest.startsWith("{")) {
                    rest = rest.substring(rest.lastIndexOf('}') + 1); // label values may hold spaces
                } else if (!rest.startsWith(" ")) {
                    continue; // a longer name that starts with this one
                }
                // name{labels} value [timestamp]
                sums[i] += Double.parseDouble(rest.strip().split("\\s+")[0]);
                seen[i] = true;
            }
        }
        for (int i = 0; i < names.length; i++) {
            if (!seen[i]) {
                throw new IllegalArgumentException("/metrics has no " + names[i]
                        + " sample; the idle check needs vLLM's gauge names");
            }
        }
        return new ServerLoad(sums[0], sums[1], sums[2]);
    }

    @Override
    public String toString() {
        return String.format("running=%s waiting=%s kv_cache_usage=%.4f", fmt(running), fmt(waiting), kvCacheUsage);
    }

    private static String fmt(double v) {
        return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
    }
}
