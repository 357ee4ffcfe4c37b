package io.peregrine.engine.chat;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Expected strings are what CPython 3.11 prints. */
class PyJsonTest {
    @Test
    void floatRepr() {
        Object[][] cases = {{1e16, "1e+16"}, {1e15, "1000000000000000.0"}, {0.0001, "0.0001"}, {0.00001, "1e-05"},
                {1.5e-7, "1.5e-07"}, {123456789.123, "123456789.123"}, {1.2345678901234568e17, "1.2345678901234568e+17"},
                {-0.0, "-0.0"}, {2.5, "2.5"}, {100.0, "100.0"}, {1e100, "1e+100"}, {5e-324, "5e-324"},
                {0.1 + 0.2, "0.30000000000000004"}, {-1.5, "-1.5"}};
        for (Object[] c : cases) {
            assertEquals(c[1], PyJson.floatRepr((Double) c[0]), String.valueOf(c[0]));
        }
    }

    @Test
    void dumpsLikeJsonDumpsEnsureAsciiFalse() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("a", "é\n\u0001\"\\/");
        m.put("b", Arrays.asList(1, 2.0, true, null, 12345678901234L));
        assertEquals("{\"a\": \"é\\n\\u0001\\\"\\\\/\", \"b\": [1, 2.0, true, null, 12345678901234]}", PyJson.dumps(m));
        assertEquals("{\"a\":\"é\\n\\u0001\\\"\\\\/\",\"b\":[1,2.0,true,null,12345678901234]}",
                PyJson.dumps(m, ",", ":"));
    }

    @Test
    void strAndRepr() {
        assertEquals("True", PyJson.str(true));
        assertEquals("None", PyJson.str(null));
        assertEquals("^[0-9]{5}$", PyJson.str("^[0-9]{5}$"));
        assertEquals("1.5", PyJson.str(1.5));
        assertEquals("['a', 1]", PyJson.str(List.of("a", 1)));
    }

    @Test
    void deepSortByCodePoint() {
        Map<String, Object> inner = new LinkedHashMap<>();
        inner.put("b", 1);
        inner.put("a", 2);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("\uD83D\uDE00", 1); // U+1F600 sorts after U+FF5E in Python (code points), before it in UTF-16
        m.put("\uFF5E", 2);
        m.put("list", List.of(inner));
        assertEquals("{\"list\": [{\"a\": 2, \"b\": 1}], \"\uFF5E\": 2, \"\uD83D\uDE00\": 1}",
                PyJson.dumps(PyJson.deepSort(m)));
    }
}
