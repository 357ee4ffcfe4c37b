package io.peregrine.server.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.server.http.ApiException;
import org.junit.jupiter.api.Test;

class ThinkingResolverTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static JsonNode j(String s) throws Exception {
        return JSON.readTree(s);
    }

    private static boolean on(String thinking, String kwargs, String effort) throws Exception {
        return ThinkingResolver.resolve(thinking == null ? null : j(thinking), kwargs == null ? null : j(kwargs), effort)
                .enabled();
    }

    @Test
    void eachSpellingResolves() throws Exception {
        assertEquals(true, on(null, null, null));
        assertEquals(false, on("{\"type\":\"disabled\"}", null, null));
        assertEquals(true, on("{\"type\":\"enabled\"}", null, null));
        assertEquals(false, on("false", null, null));
        assertEquals(false, on(null, "{\"thinking\":false}", null));
        assertEquals(false, on(null, "{\"thinking\":\"False\"}", null), "the string \"false\" is false, unlike Jinja");
        assertEquals(false, on(null, "{\"enable_thinking\":0}", null));
        assertEquals(true, on(null, "{\"enable_thinking\":\"yes\"}", null));
        assertEquals(false, on(null, null, "none"));
        assertEquals(true, on(null, null, "low"));
        assertEquals(true, on(null, null, "xhigh"), "OpenAI's newest effort, which the Responses API passes on");
        assertEquals(true, on(null, null, "MAX"));
        assertEquals(false, on(null, "{\"thinking\":false,\"enable_thinking\":false}", "none"), "agreeing spellings");
    }

    @Test
    void badOrConflictingValuesAre400() {
        assertThrows(ApiException.class, () -> on("{\"type\":\"maybe\"}", null, null));
        assertThrows(ApiException.class, () -> on("{\"type\":\"enabled\",\"keep\":\"some\"}", null, null));
        assertThrows(ApiException.class, () -> on("{\"type\":\"enabled\",\"colour\":1}", null, null));
        assertThrows(ApiException.class, () -> on(null, "{\"thinking\":\"perhaps\"}", null));
        assertThrows(ApiException.class, () -> on(null, "{\"thinking\":2}", null));
        assertThrows(ApiException.class, () -> on(null, "[1]", null));
        assertThrows(ApiException.class, () -> on(null, null, "extreme"));
        assertThrows(ApiException.class, () -> on(null, "{\"thinking\":true,\"enable_thinking\":false}", null));
        assertThrows(ApiException.class, () -> on(null, "{\"thinking\":true}", "none"));
        assertThrows(ApiException.class, () -> on("{\"type\":\"enabled\"}", null, "high"));
    }
}
