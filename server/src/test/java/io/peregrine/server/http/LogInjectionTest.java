package io.peregrine.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.server.fakes.TestServer;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;

/** Client-controlled text that reaches the log cannot forge a line or send terminal escapes. */
class LogInjectionTest {

    @Test
    void unknownFieldNamesAreLoggedWithTheirControlCharactersEscaped() throws Exception {
        Logger log = Logger.getLogger(JsonBodies.class.getName());
        List<String> lines = new CopyOnWriteArrayList<>();
        Handler capture = new Handler() {
            @Override
            public void publish(LogRecord r) {
                lines.add(r.getMessage());
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        };
        log.addHandler(capture);
        try (TestServer server = new TestServer()) {
            var r = server.post("/v1/completions", "{\"prompt\":\"x\",\"max_tokens\":1,"
                    + "\"evil\\nSEVERE [fake] injected\\r\\nline\":1,\"\\u001b[31mred\":2,\"sep\\u2028x\\u202eabc\":3}");
            assertEquals(200, r.statusCode(), r.body());
        } finally {
            log.removeHandler(capture);
        }
        String line = lines.stream().filter(l -> l.contains("ignored")).findFirst().orElseThrow();
        for (char c : line.toCharArray()) {
            assertFalse(Character.getType(c) == Character.CONTROL || c == '\u2028' || c == '\u202e',
                    "raw control character " + (int) c + " in " + line);
        }
        assertTrue(line.contains("evil\\u000aSEVERE [fake] injected\\u000d\\u000aline"), line);
        assertTrue(line.contains("\\u001b[31mred"), line);
    }

    @Test
    void quoteEscapesOnlyWhatIsUnsafe() {
        assertEquals("plain ünïcødé 漢字 😀", Quote.clip("plain ünïcødé 漢字 😀"));
        assertEquals("a\\u0000b\\u007fc\\u0085d\\u2029e\\u2066f", Quote.clip("a\u0000b\u007fc\u0085d\u2029e\u2066f"));
    }
}
