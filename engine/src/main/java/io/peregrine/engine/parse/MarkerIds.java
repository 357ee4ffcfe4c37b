package io.peregrine.engine.parse;

import io.peregrine.engine.tokenizer.KimiTokenizer;

/**
 * The token ids of the markers the output parser reacts to, taken from the tokenizer (never constants: the tiny
 * golden checkpoint remaps every special id). Ids in {@code [firstSpecial, lastSpecial]} that are not one of these
 * markers are dropped from the text, so no special token can leak into content or reasoning.
 */
public record MarkerIds(int thinkBegin, int thinkEnd, int sectionBegin, int sectionEnd, int callBegin,
                        int argumentBegin, int callEnd, int imEnd, int eos, int firstSpecial, int lastSpecial) {

    public static MarkerIds from(KimiTokenizer t) {
        return new MarkerIds(t.requireSpecialId("<think>"), t.requireSpecialId("</think>"),
                t.requireSpecialId("<|tool_calls_section_begin|>"), t.requireSpecialId("<|tool_calls_section_end|>"),
                t.requireSpecialId("<|tool_call_begin|>"), t.requireSpecialId("<|tool_call_argument_begin|>"),
                t.requireSpecialId("<|tool_call_end|>"), t.requireSpecialId("<|im_end|>"), t.requireSpecialId("[EOS]"),
                t.numRegularTokens(), t.vocabSize() - 1);
    }

    /**
     * The same markers with every special id moved so that the first special id becomes {@code newFirstSpecial}
     * (the tiny golden checkpoint maps real id r to r - 163584 + 1792).
     */
    public MarkerIds withFirstSpecial(int newFirstSpecial) {
        int d = newFirstSpecial - firstSpecial;
        return new MarkerIds(thinkBegin + d, thinkEnd + d, sectionBegin + d, sectionEnd + d, callBegin + d,
                argumentBegin + d, callEnd + d, imEnd + d, eos + d, firstSpecial + d, lastSpecial + d);
    }

    public boolean isSpecial(int id) {
        return id >= firstSpecial && id <= lastSpecial;
    }

    /** Whether generation ends at this id. */
    public boolean isEnd(int id) {
        return id == imEnd || id == eos;
    }
}
