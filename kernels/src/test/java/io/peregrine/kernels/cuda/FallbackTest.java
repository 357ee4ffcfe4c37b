package io.peregrine.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import io.peregrine.engine.backend.BackendProvider;
import io.peregrine.engine.backend.Backends;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;

/** On a machine without an NVIDIA driver (CI) the CUDA provider declines cleanly and the CPU backend is chosen. */
class FallbackTest {

    @Test
    void withoutADriverTheProviderGivesAReasonAndAutoPicksTheCpu() {
        assumeFalse(Files.exists(Path.of("/dev/nvidia0")), "this machine has a GPU");
        CudaBackendProvider cuda = new CudaBackendProvider();
        Optional<String> why = cuda.unavailableReason();
        assertTrue(why.isPresent(), "no driver here, yet the CUDA backend claims to be usable");
        assertTrue(why.get().contains("driver") || why.get().contains("device"), why.get());
        assertSame(why.get(), cuda.unavailableReason().orElseThrow(), "the probe runs once");
        var e = assertThrows(IllegalStateException.class, cuda::create);
        assertTrue(e.getMessage().contains(why.get()), e.getMessage());

        List<LogRecord> records = new ArrayList<>();
        Handler h = new Handler() {
            @Override
            public void publish(LogRecord r) {
                records.add(r);
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        };
        Logger log = Logger.getLogger(Backends.class.getName());
        log.addHandler(h);
        try {
            BackendProvider chosen = Backends.select("auto");
            assertEquals("cpu", chosen.name());
        } finally {
            log.removeHandler(h);
        }
        List<String> lines = records.stream().map(LogRecord::getMessage).filter(m -> m.contains("cuda")).toList();
        assertEquals(1, lines.size(), "one log line about the CUDA fallback: " + lines);
        assertTrue(lines.get(0).startsWith("backend cuda not used: "), lines.get(0));
        assertTrue(!lines.get(0).contains("\n"), "one line, not a stack trace: " + lines.get(0));
    }
}
