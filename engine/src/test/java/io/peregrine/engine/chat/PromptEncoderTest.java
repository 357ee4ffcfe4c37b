package io.peregrine.engine.chat;

import io.peregrine.engine.parse.MarkerIds;
import io.peregrine.engine.parse.OutputParser;
import io.peregrine.engine.parse.ParsedMessage;
import io.peregrine.engine.parse.OutputFinish;
import io.peregrine.engine.tokenizer.KimiTokenizer;
import io.peregrine.engine.tokenizer.SpecialTextPolicy;
import io.peregrine.engine.tokenizer.Tokenizers;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The resolved thinking switch drives both the prompt's end and the parser's start state. */
class PromptEncoderTest {
    final KimiTokenizer tok = Tokenizers.bundled();
    final PromptEncoder enc = new PromptEncoder(ChatTemplate.of(TemplateVariant.K25_OFFICIAL), tok);
    final MarkerIds markers = MarkerIds.from(tok);

    @Test
    void thinkingOnAndOff() {
        for (boolean thinking : new boolean[] {true, false}) {
            PromptEncoder.EncodedPrompt p = enc.encode(List.of(ChatMessage.user("2+2?")), List.of(),
                    RenderOptions.defaults().withThinking(thinking), SpecialTextPolicy.AS_TEXT);
            int[] ids = p.ids();
            assertEquals(thinking, ids[ids.length - 1] == markers.thinkBegin());
            int[] out = thinking
                    ? concat(tok.encodeOrdinary("Add."), new int[] {markers.thinkEnd()}, tok.encodeOrdinary("4"),
                            new int[] {markers.imEnd()})
                    : concat(tok.encodeOrdinary("4"), new int[] {markers.imEnd()});
            ParsedMessage m = OutputParser.parse(tok, markers, p.thinking(), out, OutputFinish.STOP);
            assertEquals("4", m.content());
            if (thinking) {
                assertEquals("Add.", m.reasoning());
            } else {
                assertFalse(m.reasoning() != null);
            }
            // the parser can also find its start state from the prompt ids alone
            OutputParser q = OutputParser.forPrompt(tok, markers, ids);
            q.push(out);
            q.finish(OutputFinish.STOP);
            assertEquals(m, q.message());
        }
    }

    @Test
    void historyIsRepairedBeforeRendering() {
        PromptEncoder.EncodedPrompt p = enc.encode(List.of(ChatMessage.user("q"),
                ChatMessage.assistant(null, null, List.of(new ToolCall("call_9f", "f", new ToolArguments.Text("")))),
                ChatMessage.tool("call_9f", null, "r")), List.of(), RenderOptions.defaults(),
                SpecialTextPolicy.AS_TEXT);
        assertTrue(p.rendered().text().contains("<|tool_call_begin|>functions.f:0<|tool_call_argument_begin|>{}"));
        assertTrue(p.rendered().text().contains("<|im_system|>f<|im_middle|>## Return of functions.f:0\nr"));
    }

    static int[] concat(int[]... parts) {
        int n = 0;
        for (int[] p : parts) n += p.length;
        int[] out = new int[n];
        int i = 0;
        for (int[] p : parts) {
            System.arraycopy(p, 0, out, i, p.length);
            i += p.length;
        }
        return out;
    }
}
