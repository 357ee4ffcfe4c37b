package io.peregrine.server.responses;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.peregrine.server.http.ApiException;
import org.junit.jupiter.api.Test;

/** Chat's field names in errors become the fields a Responses client sent. */
class ChatParamNamesTest {

    private static ApiException renamed(String message, String param) {
        return ChatParamNames.inResponsesTerms(ApiException.invalid(message, param));
    }

    @Test
    void jsonSchemaFieldsSitFlatInTextFormat() {
        ApiException e = renamed("response_format.json_schema.schema: keyword 'pattern' is not enforced (#/pattern)",
                "response_format.json_schema.schema");
        assertEquals("text.format.schema", e.param());
        assertEquals("text.format.schema: keyword 'pattern' is not enforced (#/pattern)", e.getMessage());
        assertEquals("text.format.name", renamed("x", "response_format.json_schema.name").param());
        assertEquals("text.format.type", renamed("x", "response_format.type").param());
        assertEquals("text.format", renamed("response_format must be an object", "response_format").param());
    }

    @Test
    void functionToolsAreFlat() {
        ApiException e = renamed("tools[3].function.parameters: keyword 'format' is not enforced",
                "tools[3].function.parameters");
        assertEquals("tools[3].parameters", e.param());
        assertEquals("tools[3].parameters: keyword 'format' is not enforced", e.getMessage());
        assertEquals("tools[12].name", renamed("duplicate tool name 'f'", "tools[12].function.name").param());
        assertEquals("duplicate tool name 'f'", renamed("duplicate tool name 'f'", "tools[12].function.name")
                .getMessage());
    }

    @Test
    void reasoningEffortIsNested() {
        ApiException e = renamed("Send either 'thinking' or 'reasoning_effort', not both", "reasoning_effort");
        assertEquals("reasoning.effort", e.param());
        assertEquals("Send either 'thinking' or 'reasoning.effort', not both", e.getMessage());
    }

    @Test
    void aConversationLimitNamesInput() {
        ApiException e = renamed("Too many images: 17 in this request, the limit is 16", "messages");
        assertEquals("input", e.param());
        assertEquals("messages[2].content", renamed("x", "messages[2].content").param(),
                "chat's message index is not input's: left as it is rather than guessed");
    }

    @Test
    void namesBothApisShareAreLeftAlone() {
        for (String param : new String[] {"temperature", "tools", "tool_choice", "response_formats", "model"}) {
            ApiException e = ApiException.invalid("bad " + param, param);
            assertSame(e, ChatParamNames.inResponsesTerms(e), param);
        }
        ApiException noParam = ApiException.invalid("bad", null);
        assertSame(noParam, ChatParamNames.inResponsesTerms(noParam));
    }
}
