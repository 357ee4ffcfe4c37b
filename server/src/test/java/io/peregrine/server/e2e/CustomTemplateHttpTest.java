package io.peregrine.server.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.errors.BadRequestException;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import io.peregrine.engine.chat.TemplateVariant;
import io.peregrine.engine.tokenizer.KimiTokenizer;
import io.peregrine.engine.tokenizer.SpecialTextPolicy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --chat-template FILE} with a template the native renderer does not know (the official K2.5 template plus
 * a system line and a guard), served through the Jinja engine over real HTTP with the OpenAI SDK: the prompt is the
 * text Python's Jinja renders (written out by hand), {@code chat_template_kwargs} reach the template, and a
 * template that raises is a 400 carrying its message.
 */
class CustomTemplateHttpTest {
    @TempDir
    static Path dir;
    private static RealEngineServer server;
    private static OpenAIClient client;
    private static KimiTokenizer tokenizer;

    @BeforeAll
    static void start() throws Exception {
        String template = TemplateVariant.K25_OFFICIAL.source().replace("{%- for message in hist_msgs -%}",
                "{%- if messages[-1].content == 'boom' -%}{{ raise_exception('This model does not do booms.') }}"
                        + "{%- endif -%}\n"
                        + "<|im_system|>system<|im_middle|>Answer like {{ persona | default('a falcon') }}.<|im_end|>\n"
                        + "{%- for message in hist_msgs -%}");
        Path file = dir.resolve("falcon.jinja");
        Files.writeString(file, template);
        server = new RealEngineServer(dir.resolve("tiny"), 2, 32L << 20, file);
        client = OpenAIOkHttpClient.builder().baseUrl(server.baseUrl() + "/v1").apiKey("unused").maxRetries(0).build();
        tokenizer = KimiTokenizer.fromDirectory(dir.resolve("tiny"));
    }

    @AfterAll
    static void stop() {
        client.close();
        server.close();
    }

    @Test
    void theTemplateRendersAsPythonWouldWithTheClientsKwargs() throws Exception {
        client.chat().completions().create(ChatCompletionCreateParams.builder().model(RealEngineServer.MODEL)
                .addUserMessage("Hi").maxCompletionTokens(2).build());
        assertArrayEquals(tokenizer.encode("<|im_system|>system<|im_middle|>Answer like a falcon.<|im_end|>"
                        + "<|im_user|>user<|im_middle|>Hi<|im_end|><|im_assistant|>assistant<|im_middle|><think>",
                SpecialTextPolicy.AS_SPECIAL), server.lastSubmitted().promptIds());

        client.chat().completions().create(ChatCompletionCreateParams.builder().model(RealEngineServer.MODEL)
                .addUserMessage("Hi").maxCompletionTokens(2).putAdditionalBodyProperty("chat_template_kwargs",
                        JsonValue.from(Map.of("persona", "a kestrel", "thinking", false))).build());
        assertArrayEquals(tokenizer.encode("<|im_system|>system<|im_middle|>Answer like a kestrel.<|im_end|>"
                        + "<|im_user|>user<|im_middle|>Hi<|im_end|><|im_assistant|>assistant<|im_middle|><think></think>",
                SpecialTextPolicy.AS_SPECIAL), server.lastSubmitted().promptIds());
        server.awaitIdle();
    }

    @Test
    void aTemplateThatRaisesIsA400WithItsMessage() {
        var e = org.junit.jupiter.api.Assertions.assertThrows(BadRequestException.class, () -> client.chat()
                .completions().create(ChatCompletionCreateParams.builder().model(RealEngineServer.MODEL)
                        .addUserMessage("boom").maxCompletionTokens(2).build()));
        assertEquals(400, e.statusCode());
        assertTrue(e.getMessage().contains("chat template error: This model does not do booms."), e.getMessage());
    }
}
