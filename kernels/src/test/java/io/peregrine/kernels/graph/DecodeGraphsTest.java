package io.peregrine.kernels.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class DecodeGraphsTest {

    /** Records what the device side was asked to do. */
    static final class FakeCapturer implements DecodeGraphs.Capturer<String> {
        final List<String> log = new ArrayList<>();
        int next;

        @Override
        public String capture(int bucket) {
            String g = "g" + (next++) + "@" + bucket;
            log.add("capture " + g);
            return g;
        }

        @Override
        public void replay(String graph, int batch) {
            log.add("replay " + graph + " for " + batch);
        }

        @Override
        public void destroy(String graph) {
            log.add("destroy " + graph);
        }
    }

    @Test
    void capturesOncePerBucketAndReplaysAfterwards() {
        FakeCapturer f = new FakeCapturer();
        try (DecodeGraphs<String> g = new DecodeGraphs<>(f, 48)) {
            g.step(3);
            g.step(4);
            g.step(1);
            g.step(33);
            g.step(48);
            assertEquals(List.of("capture g0@4", "replay g0@4 for 3", "replay g0@4 for 4", "capture g1@1",
                    "replay g1@1 for 1", "capture g2@48", "replay g2@48 for 33", "replay g2@48 for 48"), f.log);
            assertEquals(3, g.captures());
            assertEquals(3, g.cached());
        }
        assertEquals(List.of("destroy g1@1", "destroy g0@4", "destroy g2@48"), f.log.subList(8, 11));
    }

    @Test
    void bucketsArePowersOfTwoCappedAtTheMaximum() {
        DecodeGraphs<String> g = new DecodeGraphs<>(new FakeCapturer(), 100);
        assertEquals(1, g.bucket(1));
        assertEquals(2, g.bucket(2));
        assertEquals(4, g.bucket(3));
        assertEquals(64, g.bucket(64));
        assertEquals(100, g.bucket(65));
        assertThrows(IllegalArgumentException.class, () -> g.bucket(0));
        assertThrows(IllegalArgumentException.class, () -> g.bucket(101));
    }

    @Test
    void invalidateDropsEveryGraphAndTheNextStepRecaptures() {
        FakeCapturer f = new FakeCapturer();
        DecodeGraphs<String> g = new DecodeGraphs<>(f, 8);
        g.step(2);
        g.invalidate();
        assertEquals(0, g.cached());
        g.step(2);
        assertEquals(List.of("capture g0@2", "replay g0@2 for 2", "destroy g0@2", "capture g1@2", "replay g1@2 for 2"), f.log);
        assertEquals(2, g.captures());
    }
}
