package io.peregrine.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.runtime.RejectedException;
import io.peregrine.engine.runtime.TokenConstraint;
import io.peregrine.engine.vision.encoder.VisionEmbeddings;
import io.peregrine.engine.vision.encoder.VisionEncoder;
import io.peregrine.engine.vision.preprocess.PreprocessedImage;
import io.peregrine.server.fakes.TestServer;
import io.peregrine.server.metrics.ServerMetrics;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Peregrine's own series: queue rejections, structured-output mask time, vision-encoder time. */
class PeregrineMetricsTest {
    private static final String MODEL = "model_name=\"kimi-k2.5\"";

    private static double value(Map<String, Double> samples, String name) {
        return samples.entrySet().stream().filter(e -> e.getKey().startsWith(name + "{") && e.getKey().contains(MODEL))
                .mapToDouble(Map.Entry::getValue).findFirst().orElseThrow(() -> new AssertionError("no " + name));
    }

    @Test
    void queueRejectionsAreCounted() throws Exception {
        try (TestServer s = new TestServer()) {
            s.engine.rejectWith(new RejectedException(RejectedException.Kind.QUEUE_FULL, "256 requests waiting"));
            String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
            assertEquals(429, s.post("/v1/chat/completions", body).statusCode());
            assertEquals(429, s.post("/v1/chat/completions", body).statusCode());
            Map<String, Double> m = MetricsScrapeTest.parse(s.get("/metrics").body());
            assertEquals(2.0, value(m, "peregrine:queue_rejections_total"));
        }
    }

    @Test
    void masksAndVisionEncodesAreTimedAndStillDoTheirWork() {
        try (ServerMetrics metrics = new ServerMetrics("kimi-k2.5",
                () -> new io.peregrine.engine.runtime.EngineStats(0, 0, 0, 0, 1, 0, 0, 0, 0))) {
            AtomicInteger accepted = new AtomicInteger();
            TokenConstraint.Factory factory = choice -> new TokenConstraint() {
                @Override
                public void mask(float[] logits) {
                    logits[0] = Float.NEGATIVE_INFINITY;
                }

                @Override
                public void accept(int tokenId) {
                    accepted.incrementAndGet();
                }
            };
            TokenConstraint timed = metrics.timed(factory).forChoice(0);
            float[] logits = {1, 2, 3};
            timed.mask(logits);
            timed.mask(logits);
            timed.accept(1);
            assertEquals(Float.NEGATIVE_INFINITY, logits[0]);
            assertEquals(1, accepted.get());
            assertEquals(null, metrics.timed((TokenConstraint.Factory) null), "no constraint stays none");

            VisionEncoder encoder = metrics.timed(new VisionEncoder() {
                @Override
                public VisionEmbeddings encode(PreprocessedImage image) {
                    return null;
                }

                @Override
                public int outputHidden() {
                    return 7;
                }

                @Override
                public void close() {}
            });
            encoder.encode(null);
            assertEquals(7, encoder.outputHidden());
            Map<String, Double> m = MetricsScrapeTest.parse(metrics.scrape());
            assertEquals(2.0, value(m, "peregrine:structured_output_mask_time_seconds_count"));
            assertEquals(1.0, value(m, "peregrine:vision_encoder_time_seconds_count"));
            assertTrue(m.keySet().stream().anyMatch(k -> k.startsWith("peregrine:vision_encoder_time_seconds_bucket")));
        }
    }
}
