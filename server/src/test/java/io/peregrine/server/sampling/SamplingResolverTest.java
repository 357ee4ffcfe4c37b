package io.peregrine.server.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.peregrine.engine.sample.SamplingParams;
import io.peregrine.server.http.ApiException;
import java.util.List;
import org.junit.jupiter.api.Test;

class SamplingResolverTest {
    private static SamplingInput in(Double t, Double p, Integer n) {
        return new SamplingInput(t, p, null, null, null, null, null, null, null, null, null, n, -1);
    }

    @Test
    void defaultsAreKimisRecommendedValues() throws Exception {
        SamplingParams thinking = new SamplingResolver(SamplingPolicy.FREE).resolve(in(null, null, null), true).forMaxTokens(9);
        assertEquals(1.0, thinking.temperature());
        assertEquals(0.95, thinking.topP());
        assertEquals(9, thinking.maxTokens());
        assertEquals(1, thinking.n());
        assertEquals(1.0, thinking.repetitionPenalty());
        SamplingParams instant = new SamplingResolver(SamplingPolicy.FREE).resolve(in(null, null, null), false).forMaxTokens(9);
        assertEquals(0.6, instant.temperature());
    }

    @Test
    void rangesAreChecked() {
        SamplingResolver r = new SamplingResolver(SamplingPolicy.FREE);
        assertThrows(ApiException.class, () -> r.resolve(in(-0.1, null, null), true));
        assertThrows(ApiException.class, () -> r.resolve(in(null, 0.0, null), true));
        assertThrows(ApiException.class, () -> r.resolve(in(null, 1.1, null), true));
        assertThrows(ApiException.class, () -> r.resolve(in(null, null, 0), true));
        assertThrows(ApiException.class, () -> r.resolve(in(null, null, 17), true));
        assertThrows(ApiException.class, () -> r.resolve(new SamplingInput(null, null, -2, null, null, null, null, null,
                null, null, null, null, -1), true));
        assertThrows(ApiException.class, () -> r.resolve(new SamplingInput(null, null, null, 1.5, null, null, null,
                null, null, null, null, null, -1), true));
        assertThrows(ApiException.class, () -> r.resolve(new SamplingInput(null, null, null, null, 2.5, null, null,
                null, null, null, null, null, -1), true));
        assertThrows(ApiException.class, () -> r.resolve(new SamplingInput(null, null, null, null, null, null, 0.0,
                null, null, null, null, null, -1), true));
    }

    @Test
    void stopIsAStringOrAnArrayOfStrings() throws Exception {
        var f = JsonNodeFactory.instance;
        assertEquals(List.of("x"), SamplingResolver.stopStrings(f.textNode("x")));
        assertEquals(List.of("a", "b"), SamplingResolver.stopStrings(f.arrayNode().add("a").add("b")));
        assertEquals(List.of(), SamplingResolver.stopStrings(null));
        assertThrows(ApiException.class, () -> SamplingResolver.stopStrings(f.numberNode(3)));
        assertThrows(ApiException.class, () -> SamplingResolver.stopStrings(f.textNode("")));
    }

    @Test
    void moonshotPolicyFixesValuesPerMode() throws Exception {
        SamplingResolver r = new SamplingResolver(SamplingPolicy.MOONSHOT);
        assertEquals(1.0, r.resolve(in(null, null, null), true).forMaxTokens(1).temperature());
        assertEquals(0.6, r.resolve(in(0.6, 0.95, 1), false).forMaxTokens(1).temperature());
        ApiException e = assertThrows(ApiException.class, () -> r.resolve(in(0.6, null, null), true));
        assertEquals("temperature", e.param());
        assertEquals("invalid temperature: only 1 is allowed for this model in thinking mode", e.getMessage());
        assertThrows(ApiException.class, () -> r.resolve(in(1.0, null, null), false));
        assertThrows(ApiException.class, () -> r.resolve(in(null, 0.8, null), true));
        assertThrows(ApiException.class, () -> r.resolve(in(null, null, 2), true));
    }
}
