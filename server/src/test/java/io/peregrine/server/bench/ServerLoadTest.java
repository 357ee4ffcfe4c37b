package io.peregrine.server.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class ServerLoadTest {
    private static final String TEXT = """
            # HELP vllm:num_requests_running Requests in model execution batches
            # TYPE vllm:num_requests_running gauge
            vllm:num_requests_running{engine="0",model_name="a b"} 2.0
            vllm:num_requests_running{engine="1",model_name="a b"} 1.0
            vllm:num_requests_running_extra 99
            vllm:num_requests_waiting 3 1700000000000
            vllm:kv_cache_usage_perc{model_name="x"} 0.25
            """;

    @Test
    void sumsLabelSetsAndIgnoresLongerNames() {
        assertEquals(new ServerLoad(3, 3, 0.25), ServerLoad.parse(TEXT));
    }

    @Test
    void readsNimAndSglangNamesWhenVllmsAreAbsent() {
        ServerLoad nim = ServerLoad.parse("num_requests_running 1\nnum_requests_waiting 2\ngpu_cache_usage_perc 0.5\n");
        assertEquals(new ServerLoad(1, 2, 0.5, java.util.List.of("num_requests_running", "num_requests_waiting",
                "gpu_cache_usage_perc")), nim);
        ServerLoad sglang = ServerLoad.parse("sglang:num_running_reqs{tp_rank=\"0\"} 4\nsglang:num_queue_reqs 0\n"
                + "sglang:token_usage 0.1\n");
        assertEquals(4, sglang.running());
        assertTrue(IdleCheck.problem(new ServerLoad(0, 0, 0), sglang, 0).startsWith("sglang:num_running_reqs = 4.0"));
    }

    @Test
    void missingGaugeIsNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ServerLoad.parse("vllm:num_requests_running 0\nvllm:num_requests_waiting 0\n"));
        assertTrue(e.getMessage().contains("vllm:kv_cache_usage_perc"), e.getMessage());
    }

    @Test
    void idleCheckWaitsForTheServerToSettle() throws Exception {
        AtomicInteger scrapes = new AtomicInteger();
        ServerLoad before = new ServerLoad(0, 0, 0.1);
        IdleCheck.Verdict v = IdleCheck.await(() -> scrapes.incrementAndGet() < 3
                ? "vllm:num_requests_running 1\nvllm:num_requests_waiting 0\nvllm:kv_cache_usage_perc 0.2\n"
                : "vllm:num_requests_running 0\nvllm:num_requests_waiting 0\nvllm:kv_cache_usage_perc 0.1\n",
                before, Duration.ofSeconds(5), 0);
        assertTrue(v.idle());
        assertNull(v.problem());
        assertEquals(3, scrapes.get());
    }

    @Test
    void kvAboveItsIdleLevelIsAProblemUnlessTolerated() {
        ServerLoad before = new ServerLoad(0, 0, 0.1);
        ServerLoad after = new ServerLoad(0, 0, 0.15);
        assertTrue(IdleCheck.problem(before, after, 0).contains("vllm:kv_cache_usage_perc = 0.1500"));
        assertNull(IdleCheck.problem(before, after, 0.05));
        assertTrue(IdleCheck.problem(before, new ServerLoad(0, 2, 0.1), 0).contains("vllm:num_requests_waiting = 2"));
    }
}
