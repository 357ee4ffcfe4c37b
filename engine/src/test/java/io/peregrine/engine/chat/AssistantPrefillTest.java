package io.peregrine.engine.chat;

import io.peregrine.engine.parse.MarkerIds;
import io.peregrine.engine.parse.OutputParser;
import io.peregrine.engine.parse.ParsedMessage;
import io.peregrine.engine.parse.OutputFinish;
import io.peregrine.engine.tokenizer.KimiTokenizer;
import io.peregrine.engine.tokenizer.SpecialTextPolicy;
import io.peregrine.engine.tokenizer.Tokenizers;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Partial mode: the prompt ends inside the final assistant message, and the parser starts where the prompt ends. */
class AssistantPrefillTest {
    final KimiTokenizer tok = Tokenizers.bundled();
    final MarkerIds markers = MarkerIds.from(tok);
    final PromptEncoder enc = new PromptEncoder(ChatTemplate.of(TemplateVariant.K25_OFFICIAL), tok);
    static final RenderOptions CONTINUE = RenderOptions.defaults().withGenerationPrompt(false).continuingFinalMessage(true);

    PromptEncoder.EncodedPrompt encode(List<ChatMessage> messages, RenderOptions options) {
        return enc.encode(messages, List.of(), options, SpecialTextPolicy.AS_TEXT);
    }

    @Test
    void aContentPrefixIsTheClosedRenderWithoutItsEndMarker() {
        List<ChatMessage> messages = List.of(ChatMessage.user("Say <|im_end|> twice."),
                ChatMessage.assistant("Sure: <|im_end|> ").withName("Kimi"));
        int[] closed = encode(messages, RenderOptions.defaults().withGenerationPrompt(false)).ids();
        assertEquals(markers.imEnd(), closed[closed.length - 1]);
        PromptEncoder.EncodedPrompt p = encode(messages, CONTINUE);
        assertArrayEquals(Arrays.copyOf(closed, closed.length - 1), p.ids());
        // the name reaches the header; the trailing space is kept (the template kept it); the quoted marker is text
        assertTrue(p.rendered().text().endsWith("<|im_assistant|>Kimi<|im_middle|><think></think>Sure: <|im_end|> "));
        assertEquals(1, Arrays.stream(p.ids()).filter(id -> id == markers.imEnd()).count(), "only the user turn's end");
        assertFalse(p.thinking());
        assertFalse(startsInReasoning(p.ids()));
        ParsedMessage m = OutputParser.parse(tok, markers, p.thinking(), concat(tok.encodeOrdinary("twice"),
                new int[] {markers.imEnd()}), OutputFinish.STOP);
        assertEquals("twice", m.content());
    }

    @Test
    void aReasoningPrefixContinuesInsideTheThinkBlock() {
        List<ChatMessage> history = List.of(ChatMessage.user("2+2?"));
        int[] generation = encode(history, RenderOptions.defaults()).ids();
        PromptEncoder.EncodedPrompt p = encode(List.of(ChatMessage.user("2+2?"),
                ChatMessage.assistant("", "Adding two and", List.of())), CONTINUE);
        assertArrayEquals(concat(generation, tok.encodeOrdinary("Adding two and")), p.ids());
        assertTrue(p.thinking());
        assertTrue(startsInReasoning(p.ids()), "the parser finds the same state from the ids alone");
        ParsedMessage m = OutputParser.parse(tok, markers, p.thinking(), concat(tok.encodeOrdinary(" two."),
                new int[] {markers.thinkEnd()}, tok.encodeOrdinary("4"), new int[] {markers.imEnd()}), OutputFinish.STOP);
        assertEquals(" two.", m.reasoning());
        assertEquals("4", m.content());
        // the same prefix written inline, as an unclosed <think> at the start of the content
        PromptEncoder.EncodedPrompt inline = encode(List.of(ChatMessage.user("2+2?"),
                ChatMessage.assistant("<think>Adding two and")), CONTINUE);
        assertArrayEquals(p.ids(), inline.ids());
        assertTrue(inline.thinking());

        // instant mode: nothing to continue in; a reasoning prefix is an error, an empty one the ordinary prompt
        assertThrows(IllegalArgumentException.class, () -> encode(List.of(ChatMessage.user("q"),
                ChatMessage.assistant("", "thought", List.of())), CONTINUE.withThinking(false)));
        PromptEncoder.EncodedPrompt empty = encode(List.of(ChatMessage.user("2+2?"), ChatMessage.assistant("")),
                CONTINUE.withThinking(false));
        assertArrayEquals(encode(history, RenderOptions.defaults().withThinking(false)).ids(), empty.ids());
        assertFalse(empty.thinking());
    }

    /** transformers' rule: a template that strips the message leaves the prompt at the stripped text's end. */
    @Test
    void theCutFollowsTransformers() {
        assertEquals("ab<x>Hello".length(), AssistantPrefill.cut("ab<x>Hello<y>", " Hello "));
        assertEquals("ab<x>Hello ".length(), AssistantPrefill.cut("ab<x>Hello <y>", "Hello "));
        assertEquals("ab<x>Hello".length(), AssistantPrefill.cut("ab<x>Hello<y>", "Hello "));
        assertThrows(IllegalArgumentException.class, () -> AssistantPrefill.cut("ab", "Hello"));
    }

    @Test
    void onlyAnAssistantTextMessageWithoutCallsCanBeContinued() {
        assertThrows(IllegalArgumentException.class, () -> encode(List.of(ChatMessage.user("q")), CONTINUE));
        assertThrows(IllegalArgumentException.class, () -> encode(List.of(ChatMessage.user("q"),
                ChatMessage.assistant("a", null, List.of(new ToolCall("functions.f:0", "f",
                        new ToolArguments.Text("{}"))))), CONTINUE));
        assertThrows(IllegalArgumentException.class, () -> encode(List.of(ChatMessage.user("q"),
                new ChatMessage("assistant", List.of(new ContentPart.Image("data:x")), null, null, null, null, null)),
                CONTINUE));
    }

    /** The Jinja path continues exactly as the native one. */
    @Test
    void theJinjaEngineContinuesTheSameWay() {
        ChatTemplate jinja = SharedJinja.compile(TemplateVariant.K25_OFFICIAL.source(), "k25");
        PromptEncoder viaJinja = new PromptEncoder(jinja, tok);
        for (List<ChatMessage> messages : List.of(
                List.of(ChatMessage.user("q <think>"), ChatMessage.assistant("The answer <|im_end|> is")),
                List.of(ChatMessage.user("q"), ChatMessage.assistant("", "Thinking about", List.of())))) {
            PromptEncoder.EncodedPrompt a = encode(messages, CONTINUE);
            PromptEncoder.EncodedPrompt b = viaJinja.encode(messages, List.of(), CONTINUE, SpecialTextPolicy.AS_TEXT);
            assertEquals(a.rendered().text(), b.rendered().text());
            assertArrayEquals(a.ids(), b.ids());
            assertEquals(a.thinking(), b.thinking());
        }
    }

    private boolean startsInReasoning(int[] promptIds) {
        OutputParser p = OutputParser.forPrompt(tok, markers, promptIds);
        p.push(tok.encodeOrdinary("x"));
        p.finish(OutputFinish.STOP);
        return p.message().reasoning() != null && !p.message().reasoning().isEmpty();
    }

    static int[] concat(int[]... parts) {
        return PromptEncoderTest.concat(parts);
    }
}
