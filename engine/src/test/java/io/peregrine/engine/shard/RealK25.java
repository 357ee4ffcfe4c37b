package io.peregrine.engine.shard;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.engine.checkpoint.CheckpointLayout;
import io.peregrine.engine.checkpoint.TensorSpec;
import io.peregrine.engine.config.ConfigParser;
import io.peregrine.engine.config.ModelConfig;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** The real K2.5 config and its 208,550-tensor layout, built once for the sharding and capacity tests. */
final class RealK25 {
    static final ModelConfig CONFIG = read();
    static final List<TensorSpec> LAYOUT = CheckpointLayout.of(CONFIG);
    static final Map<String, TensorSpec> BY_NAME = byName();
    static final RankWeights TP8 = RankWeights.of(new ShardingPlan(CONFIG, 8, false), LAYOUT);

    private RealK25() {}

    private static ModelConfig read() {
        try (InputStream in = RealK25.class.getResourceAsStream("/io/peregrine/engine/kimi-k25/config.json")) {
            return ConfigParser.parse("config.json", new ObjectMapper().readTree(in), null);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Map<String, TensorSpec> byName() {
        Map<String, TensorSpec> m = new HashMap<>();
        LAYOUT.forEach(s -> m.put(s.name(), s));
        return m;
    }
}
