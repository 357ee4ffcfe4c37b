package io.peregrine.server.responses;

import io.peregrine.server.http.ApiException;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Responses request is validated by the chat mapper after it is rewritten in chat's shape, so an error there
 * names chat's field. The client sent the Responses field: a 400 must name that one ({@code param} and the
 * message alike), or the client is told to fix a field it never sent.
 */
final class ChatParamNames {
    private ChatParamNames() {}

    private record Rename(Pattern chat, String responses) {}

    /** Anchored at the start of {@code param}; most specific first. */
    private static final List<Rename> RENAMES = List.of(
            // json_schema's fields sit flat in text.format
            new Rename(Pattern.compile("^response_format\\.json_schema(?=$|\\.)"), "text.format"),
            new Rename(Pattern.compile("^response_format(?=$|\\.)"), "text.format"),
            // function tools are flat too: tools[i].name, tools[i].parameters
            new Rename(Pattern.compile("^(tools\\[\\d+])\\.function(?=\\.)"), "$1"),
            new Rename(Pattern.compile("^reasoning_effort$"), "reasoning.effort"),
            // a limit on the whole conversation (too many images); messages[i] is not renamed, as chat's message
            // indices do not follow input's (instructions, stored turns and items merge into messages)
            new Rename(Pattern.compile("^messages$"), "input"));

    /** {@code e} naming the Responses API's field, or {@code e} itself when chat's name is also the Responses one. */
    static ApiException inResponsesTerms(ApiException e) {
        String param = e.param();
        if (param == null) {
            return e;
        }
        for (Rename r : RENAMES) {
            Matcher m = r.chat().matcher(param);
            if (m.find()) {
                return e.withParam(m.replaceFirst(r.responses()));
            }
        }
        return e;
    }
}
