package io.peregrine.engine.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.engine.testing.TestData;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every case of testdata/golden/tokenizer-golden/tokenizer_golden.json, exactly. */
class TokenizerGoldenTest {
    static KimiTokenizer tok;
    static JsonNode golden;

    @BeforeAll
    static void load() throws IOException {
        tok = Tokenizers.bundled();
        golden = new ObjectMapper().readTree(
                TestData.golden("tokenizer-golden", "tokenizer_golden.json").toFile());
    }

    static int[] ids(JsonNode arr) {
        int[] out = new int[arr.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = arr.get(i).asInt();
        }
        return out;
    }

    @Test
    void patternIsTheGoldenOne() {
        assertEquals(golden.path("tokenizer").path("pat_str").asText(), KimiTokenizer.PAT_STR);
    }

    @Test
    void encodeCases() {
        List<String> failures = new ArrayList<>();
        int n = 0;
        for (JsonNode c : golden.path("encode_cases")) {
            n++;
            int[] got = tok.encode(c.path("text").asText(), SpecialTextPolicy.AS_SPECIAL);
            if (!java.util.Arrays.equals(ids(c.path("ids")), got)) {
                failures.add(c.path("id").asInt() + " " + c.path("category").asText() + " "
                        + java.util.Arrays.toString(got));
            }
            if (c.path("decode_roundtrip_equal").asBoolean()) {
                assertEquals(c.path("text").asText(), tok.decode(got), "roundtrip of case " + c.path("id"));
            }
        }
        assertEquals(355, n);
        assertEquals(List.of(), failures);
    }

    @Test
    void specialAsTextCases() {
        int n = 0;
        for (JsonNode c : golden.path("encode_special_as_text_cases")) {
            n++;
            assertArrayEquals(ids(c.path("ids_special_as_text")),
                    tok.encode(c.path("text").asText(), SpecialTextPolicy.AS_TEXT), c.path("text").asText());
        }
        assertTrue(n > 0);
    }

    @Test
    void longInputGuard() {
        int n = 0;
        for (JsonNode c : golden.path("long_input_cases")) {
            n++;
            StringBuilder sb = new StringBuilder();
            for (JsonNode piece : c.path("construction")) {
                sb.append(piece.get(0).asText().repeat(piece.get(1).asInt()));
            }
            assertEquals(c.path("text_len").asInt(), sb.length());
            assertArrayEquals(ids(c.path("ids")), tok.encode(sb.toString(), SpecialTextPolicy.AS_SPECIAL),
                    c.path("description").asText());
        }
        assertEquals(3, n);
    }

    @Test
    void specialTokens() {
        int n = 0;
        for (JsonNode c : golden.path("special_tokens")) {
            n++;
            int id = c.path("id").asInt();
            String text = c.path("token").asText();
            assertArrayEquals(ids(c.path("encoded")), tok.encode(text, SpecialTextPolicy.AS_SPECIAL), text);
            SpecialToken s = tok.special(id);
            assertEquals(text, s.text());
            assertEquals(c.path("hf_special_flag").asBoolean(), s.hfSpecial(), text);
            assertEquals(id, tok.requireSpecialId(text));
        }
        assertEquals(256, n);
        assertEquals(163840, tok.vocabSize());
    }

    @Test
    void decodeCases() {
        int n = 0;
        for (JsonNode c : golden.path("decode_cases")) {
            n++;
            int[] ids = ids(c.path("ids"));
            assertEquals(c.path("bytes_hex").asText(), HexFormat.of().formatHex(tok.decodeBytes(ids)));
            assertEquals(c.path("text_utf8_replace").asText(), tok.decode(ids), c.path("note").asText());
        }
        assertEquals(95, n);
    }
}
