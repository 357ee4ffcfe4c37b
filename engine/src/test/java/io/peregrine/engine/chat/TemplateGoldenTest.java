package io.peregrine.engine.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.engine.testing.TestData;
import io.peregrine.engine.tokenizer.KimiTokenizer;
import io.peregrine.engine.tokenizer.SpecialTextPolicy;
import io.peregrine.engine.tokenizer.Tokenizers;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every conversation of template_golden.json renders byte-identical and tokenizes to the reference ids. */
class TemplateGoldenTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static JsonNode golden;
    static KimiTokenizer tok;

    @BeforeAll
    static void load() throws IOException {
        golden = JSON.readTree(TestData.golden("template-golden", "template_golden.json").toFile());
        tok = Tokenizers.bundled();
    }

    static RenderedPrompt render(JsonNode c, TemplateVariant variant) {
        List<?> rawMessages = JSON.convertValue(c.get("messages"), List.class);
        Map<?, ?> kw = JSON.convertValue(c.get("kwargs"), Map.class);
        List<Tool> tools = kw.get("tools") instanceof List<?> t ? OpenAiShapes.tools(t) : List.of();
        RenderOptions opts = new RenderOptions(!Boolean.FALSE.equals(kw.get("add_generation_prompt")),
                !Boolean.FALSE.equals(kw.get("thinking")), Boolean.TRUE.equals(kw.get("preserve_thinking")));
        return ChatTemplate.of(variant).render(OpenAiShapes.messages(rawMessages), tools, opts);
    }

    void check(String renderKey, TemplateVariant variant) {
        List<String> failures = new ArrayList<>();
        int n = 0;
        for (JsonNode c : golden.path("conversations")) {
            JsonNode expected = c.path("renders").path(renderKey);
            if (expected.isMissingNode() || expected.isNull()) {
                continue;
            }
            n++;
            String name = c.path("name").asText();
            RenderedPrompt p = render(c, variant);
            if (!expected.path("text").asText().equals(p.text())) {
                failures.add(name + "\n got: " + p.text() + "\n exp: " + expected.path("text").asText());
                continue;
            }
            int[] want = JSON.convertValue(expected.path("ids"), int[].class);
            if (!Arrays.equals(want, p.tokenize(tok, SpecialTextPolicy.AS_SPECIAL))) {
                failures.add(name + ": ids differ");
            }
            if (c.has("tools_ts_str")) {
                assertTrue(p.text().contains(c.path("tools_ts_str").asText()), name);
            }
        }
        assertTrue(n >= 30, "cases checked: " + n);
        assertEquals("", String.join("\n", failures));
    }

    /**
     * The default (safe) tokenization gives the reference ids wherever no message contains special-token text; in
     * the one conversation that does, those strings become ordinary tokens and only the template's markers are
     * special.
     */
    @Test
    void safeModeDiffersOnlyWhereContentHoldsSpecialText() {
        int checked = 0;
        for (JsonNode c : golden.path("conversations")) {
            JsonNode expected = c.path("renders").path("k25_official");
            if (expected.isMissingNode()) {
                continue;
            }
            RenderedPrompt p = render(c, TemplateVariant.K25_OFFICIAL);
            int[] want = JSON.convertValue(expected.path("ids"), int[].class);
            int[] safe = p.tokenize(tok, SpecialTextPolicy.AS_TEXT);
            if (c.path("name").asText().startsWith("25_")) {
                assertTrue(!Arrays.equals(want, safe));
                long specialsSafe = Arrays.stream(safe).filter(tok::isSpecial).count();
                // <|im_user|> <|im_middle|> <|im_end|> <|im_assistant|> <|im_middle|> <think>
                assertEquals(6, specialsSafe);
                assertEquals(tok.decode(want), tok.decode(safe), "same text either way");
            } else {
                assertEquals(Arrays.toString(want), Arrays.toString(safe), c.path("name").asText());
            }
            checked++;
        }
        assertTrue(checked >= 30);
    }

    /** The processor's video expansion, given the chunk start times the golden text shows. */
    @Test
    void videoExpansion() {
        int n = 0;
        for (JsonNode c : golden.path("conversations")) {
            JsonNode expected = c.path("renders").path("k25_official");
            if (!expected.has("text_after_processor_video_expansion")) {
                continue;
            }
            n++;
            String want = expected.path("text_after_processor_video_expansion").asText();
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d\\d):(\\d\\d):(\\d\\d)\\.(\\d{3})"
                    + java.util.regex.Pattern.quote("<|media_begin|>video")).matcher(want);
            List<Double> starts = new ArrayList<>();
            while (m.find()) {
                starts.add(Integer.parseInt(m.group(1)) * 3600 + Integer.parseInt(m.group(2)) * 60
                        + Integer.parseInt(m.group(3)) + Integer.parseInt(m.group(4)) / 1000.0);
            }
            RenderedPrompt p = render(c, TemplateVariant.K25_OFFICIAL).expandVideos(List.of(starts));
            assertEquals(want, p.text(), c.path("name").asText());
            assertEquals(Arrays.toString(JSON.convertValue(expected.path("ids_after_processor_video_expansion"),
                    int[].class)), Arrays.toString(p.tokenize(tok, SpecialTextPolicy.AS_TEXT)));
        }
        assertEquals(2, n);
    }

    @Test
    void k25Official() {
        check("k25_official", TemplateVariant.K25_OFFICIAL);
    }

    @Test
    void k26Official() {
        check("k26_official", TemplateVariant.K26_OFFICIAL);
    }

    @Test
    void k25Reconstructed() {
        check("k25_reconstructed", TemplateVariant.K25_RECONSTRUCTED);
    }

    @Test
    void toolsTypeScriptMatchesByteForByte() {
        int n = 0;
        for (JsonNode c : golden.path("conversations")) {
            if (!c.has("tools_ts_str")) {
                continue;
            }
            n++;
            Map<?, ?> kw = JSON.convertValue(c.get("kwargs"), Map.class);
            List<Object> dicts = new ArrayList<>();
            for (Tool t : OpenAiShapes.tools((List<?>) kw.get("tools"))) {
                dicts.add(t.asDict());
            }
            assertEquals(c.path("tools_ts_str").asText(),
                    ToolDeclarationTs.encode((List<?>) PyJson.deepSort(dicts)), c.path("name").asText());
        }
        assertTrue(n >= 10);
    }

    @Test
    void templatesAreIdentifiedFromTheirSource() {
        assertEquals(TemplateVariant.K25_OFFICIAL,
                TemplateVariant.identify(TemplateVariant.K25_OFFICIAL.source()).orElseThrow());
        assertEquals(TemplateVariant.K26_OFFICIAL,
                TemplateVariant.identify(TemplateVariant.K26_OFFICIAL.source()).orElseThrow());
        assertEquals(TemplateVariant.K25_RECONSTRUCTED,
                TemplateVariant.identify(TemplateVariant.K25_RECONSTRUCTED.source()).orElseThrow());
        // any other template goes to the Jinja engine, not to an error
        org.junit.jupiter.api.Assertions.assertEquals("jinja x/chat_template.jinja",
                ChatTemplate.fromSource("{{ messages }}", "x/chat_template.jinja").describe());
    }
}
