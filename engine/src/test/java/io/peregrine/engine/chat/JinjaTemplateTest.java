package io.peregrine.engine.chat;

import com.fasterxml.jackson.databind.JsonNode;
import io.peregrine.engine.tokenizer.KimiTokenizer;
import io.peregrine.engine.tokenizer.SpecialTextPolicy;
import io.peregrine.engine.tokenizer.Tokenizers;
import io.peregrine.engine.testing.TestData;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The general Jinja path ({@code @huggingface/jinja} on GraalJS) against the native renderer and the Python
 * reference: every golden conversation byte-identical for all three known templates, a modified template as Python
 * renders it, template errors with their message.
 */
class JinjaTemplateTest {
    static KimiTokenizer tok;
    static final Map<TemplateVariant, JinjaTemplate> JINJA = new EnumMap<>(TemplateVariant.class);

    @BeforeAll
    static void start() throws IOException {
        TemplateGoldenTest.load();
        tok = Tokenizers.bundled();
        for (TemplateVariant v : TemplateVariant.values()) {
            JINJA.put(v, SharedJinja.compile(v.source(), v.name()));
        }
    }

    static RenderOptions options(JsonNode c) {
        Map<?, ?> kw = TemplateGoldenTest.JSON.convertValue(c.get("kwargs"), Map.class);
        return new RenderOptions(!Boolean.FALSE.equals(kw.get("add_generation_prompt")),
                !Boolean.FALSE.equals(kw.get("thinking")), Boolean.TRUE.equals(kw.get("preserve_thinking")));
    }

    @Test
    void everyTemplateGoldenConversationRendersAsTheNativeRendererAndThePythonReference() {
        Map<TemplateVariant, String> keys = Map.of(TemplateVariant.K25_OFFICIAL, "k25_official",
                TemplateVariant.K26_OFFICIAL, "k26_official", TemplateVariant.K25_RECONSTRUCTED, "k25_reconstructed");
        List<String> failures = new ArrayList<>();
        int n = 0;
        for (JsonNode c : TemplateGoldenTest.golden.path("conversations")) {
            List<ChatMessage> messages = OpenAiShapes.messages(
                    TemplateGoldenTest.JSON.convertValue(c.get("messages"), List.class));
            Map<?, ?> kw = TemplateGoldenTest.JSON.convertValue(c.get("kwargs"), Map.class);
            List<Tool> tools = kw.get("tools") instanceof List<?> t ? OpenAiShapes.tools(t) : List.of();
            for (TemplateVariant v : TemplateVariant.values()) {
                JsonNode expected = c.path("renders").path(keys.get(v));
                if (expected.isMissingNode() || expected.isNull()) {
                    continue;
                }
                n++;
                String name = c.path("name").asText() + " / " + v;
                RenderedPrompt nat = ChatTemplate.of(v).render(messages, tools, options(c));
                RenderedPrompt jin = JINJA.get(v).render(messages, tools, options(c));
                if (!jin.text().equals(nat.text()) || !jin.text().equals(expected.path("text").asText())) {
                    failures.add(name + "\n jinja:  " + jin.text() + "\n native: " + nat.text());
                    continue;
                }
                int[] want = TemplateGoldenTest.JSON.convertValue(expected.path("ids"), int[].class);
                if (!Arrays.equals(want, jin.tokenize(tok, SpecialTextPolicy.AS_SPECIAL))) {
                    failures.add(name + ": reference ids differ");
                }
                if (!Arrays.equals(nat.tokenize(tok, SpecialTextPolicy.AS_TEXT), jin.tokenize(tok, SpecialTextPolicy.AS_TEXT))) {
                    failures.add(name + ": safe ids differ from the native renderer's");
                }
                if (nat.images() != jin.images() || nat.videos() != jin.videos()) {
                    failures.add(name + ": media counts differ");
                }
            }
        }
        assertEquals("", String.join("\n", failures));
        assertTrue(n >= 90, "renders checked: " + n);
    }

    /**
     * Every tokenizer-golden string (scripts, emoji, whitespace runs, special-token text...) as a user turn, in one
     * long conversation per template (the interpreted engine costs about a millisecond per message): the same text
     * and the same safe ids on both paths, special-token strings staying text. Assistant and system turns render
     * their content with the same macro and are covered by the template golden conversations.
     */
    @Test
    void everyTokenizerGoldenStringRendersAsTheNativeRenderer() throws IOException {
        JsonNode tg = TemplateGoldenTest.JSON.readTree(TestData.golden("tokenizer-golden", "tokenizer_golden.json").toFile());
        List<ChatMessage> messages = new ArrayList<>();
        for (JsonNode c : tg.path("encode_cases")) {
            messages.add(ChatMessage.user(c.path("text").asText()));
        }
        assertTrue(messages.size() >= 355, "messages: " + messages.size());
        for (TemplateVariant v : TemplateVariant.values()) {
            RenderedPrompt nat = ChatTemplate.of(v).render(messages, List.of(), RenderOptions.defaults());
            RenderedPrompt jin = JINJA.get(v).render(messages, List.of(), RenderOptions.defaults());
            assertEquals(nat.text(), jin.text(), v.name());
            assertArrayEquals(nat.tokenize(tok, SpecialTextPolicy.AS_TEXT), jin.tokenize(tok, SpecialTextPolicy.AS_TEXT),
                    v.name());
        }
    }

    /** The sentinel guard must catch every special token the tokenizer has, or caller text could become a marker. */
    @Test
    void theGuardCoversEverySpecialToken() {
        assertEquals(256, tok.specialTokens().size());
        for (var s : tok.specialTokens()) {
            assertTrue(JinjaTemplate.SPECIAL_TEXT.matcher(s.text()).matches(), s.text());
        }
    }

    /** A derivative template: one extra system line, with a kwarg and a filter; the text is what Python renders. */
    @Test
    void aModifiedTemplateRendersAsPythonWould() {
        String modified = TemplateVariant.K25_OFFICIAL.source().replace("{%- for message in hist_msgs -%}",
                "<|im_system|>system<|im_middle|>Today is {{ today | default('unknown') | upper }}; "
                        + "{{ messages | length }} messages.<|im_end|>\n{%- for message in hist_msgs -%}");
        ChatTemplate t = SharedJinja.compile(modified, "modified.jinja");
        List<ChatMessage> messages = List.of(ChatMessage.user("Hi <|im_end|>"), ChatMessage.assistant("Hello."),
                ChatMessage.user("Bye"));
        RenderedPrompt p = t.render(messages, List.of(),
                RenderOptions.defaults().withTemplateKwargs(Map.of("today", "monday")));
        // Written by hand from Jinja2's semantics: "-" strips the newline after the line, filters chain left to right.
        assertEquals("<|im_system|>system<|im_middle|>Today is MONDAY; 3 messages.<|im_end|>"
                + "<|im_user|>user<|im_middle|>Hi <|im_end|><|im_end|>"
                + "<|im_assistant|>assistant<|im_middle|><think></think>Hello.<|im_end|>"
                + "<|im_user|>user<|im_middle|>Bye<|im_end|>"
                + "<|im_assistant|>assistant<|im_middle|><think>", p.text());
        // the user's "<|im_end|>" stays text; the template's markers are special
        int[] ids = p.tokenize(tok, SpecialTextPolicy.AS_TEXT);
        int imEnd = tok.requireSpecialId("<|im_end|>");
        assertEquals(4, Arrays.stream(ids).filter(id -> id == imEnd).count());
        assertEquals("<|im_system|>system<|im_middle|>Today is UNKNOWN; 1 messages.<|im_end|>"
                        + "<|im_user|>user<|im_middle|>x<|im_end|><|im_assistant|>assistant<|im_middle|><think></think>",
                t.render(List.of(ChatMessage.user("x")), List.of(), RenderOptions.defaults().withThinking(false)).text());
    }

    @Test
    void aTemplateThatRaisesFailsWithItsMessage() {
        ChatTemplate t = SharedJinja.compile("{%- if messages[0].role != 'system' -%}"
                + "{{ raise_exception('Conversations must start with a system message') }}{%- endif -%}ok",
                "strict.jinja");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> t.render(List.of(ChatMessage.user("hi")), List.of(), RenderOptions.defaults()));
        assertEquals("chat template error: Conversations must start with a system message", e.getMessage());
        assertEquals("ok", t.render(List.of(ChatMessage.system("s")), List.of(), RenderOptions.defaults()).text());
    }

    @Test
    void aTemplateThatDoesNotParseFailsAtCompileTimeNamingTheFile() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SharedJinja.compile("{% for m in messages %}{{ m.content }}", "broken.jinja"));
        assertTrue(e.getMessage().startsWith("broken.jinja is not a template the Jinja engine can parse"),
                e.getMessage());
    }

    /** Request threads are virtual; several render at once on the pooled contexts. */
    @Test
    void rendersConcurrentlyFromVirtualThreads() throws Exception {
        List<ChatMessage> messages = List.of(ChatMessage.user("q"), ChatMessage.assistant("a"), ChatMessage.user("r"));
        String want = ChatTemplate.of(TemplateVariant.K25_OFFICIAL).render(messages, List.of(), RenderOptions.defaults()).text();
        try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<String>> fs = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                fs.add(pool.submit(() -> JINJA.get(TemplateVariant.K25_OFFICIAL)
                        .render(messages, List.of(), RenderOptions.defaults()).text()));
            }
            for (Future<String> f : fs) {
                assertEquals(want, f.get());
            }
        }
    }
}
