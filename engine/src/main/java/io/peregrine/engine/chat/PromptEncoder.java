package io.peregrine.engine.chat;

import io.peregrine.engine.tokenizer.KimiTokenizer;
import io.peregrine.engine.tokenizer.SpecialTextPolicy;

import java.util.List;

/**
 * Messages to prompt ids in one place: history repair, the checkpoint's template, then tokenization with template
 * markers as special tokens.
 */
public final class PromptEncoder {
    private final ChatTemplate template;
    private final KimiTokenizer tokenizer;

    public PromptEncoder(ChatTemplate template, KimiTokenizer tokenizer) {
        this.template = template;
        this.tokenizer = tokenizer;
    }

    /** The tokenizer the prompt is encoded with (constrained decoding works on its vocabulary). */
    public KimiTokenizer tokenizer() {
        return tokenizer;
    }

    /**
     * @param contentPolicy {@link SpecialTextPolicy#AS_TEXT} (default, safe) keeps special-token text in messages
     *                      literal; {@link SpecialTextPolicy#AS_SPECIAL} is the reference tokenizer's behaviour
     */
    public EncodedPrompt encode(List<ChatMessage> messages, List<Tool> tools, RenderOptions options,
                                SpecialTextPolicy contentPolicy) {
        List<ChatMessage> repaired = HistoryRepair.repair(messages);
        RenderedPrompt rendered = template.render(repaired, tools, options);
        boolean inReasoning = options.continueFinalMessage()
                ? AssistantPrefill.continuesReasoning(repaired.getLast(), options.thinking()) : options.thinking();
        return new EncodedPrompt(rendered, rendered.tokenize(tokenizer, contentPolicy), inReasoning);
    }

    /** @param thinking the prompt ends inside {@code <think>}: the output starts inside reasoning */
    public record EncodedPrompt(RenderedPrompt rendered, int[] ids, boolean thinking) {
        public EncodedPrompt {
            ids = ids.clone();
        }

        @Override
        public int[] ids() {
            return ids.clone();
        }
    }
}
