package io.peregrine.server.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.server.fakes.TestServer;
import io.peregrine.server.app.ServerConfig;
import java.net.http.HttpResponse;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** API keys guard every endpoint except liveness. */
class AuthTest {
    private static TestServer server;
    private static final String CHAT = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

    /** Method, path, body (null for GET), and the status a good key gets. */
    private record Endpoint(String path, String body, int okStatus) {}

    private static final List<Endpoint> GUARDED = List.of(
            new Endpoint("/v1/chat/completions", CHAT, 200),
            new Endpoint("/v1/completions", "{\"prompt\":\"hi\"}", 200),
            new Endpoint("/v1/models", null, 200),
            new Endpoint("/v1/models/kimi-k2.5", null, 200),
            new Endpoint("/tokenize", "{\"prompt\":\"hi\"}", 200),
            new Endpoint("/detokenize", "{\"tokens\":[104,105]}", 200),
            new Endpoint("/v1/tokenizers/estimate-token-count",
                    "{\"model\":\"kimi-k2.5\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", 200),
            new Endpoint("/v1/responses", "{\"input\":\"hi\"}", 200),
            new Endpoint("/v1/responses/input_tokens", "{\"input\":\"hi\"}", 200),
            new Endpoint("/v1/responses/resp_unknown", null, 404),
            new Endpoint("/metrics", null, 200),
            new Endpoint("/ready", null, 200),
            new Endpoint("/v1/health/ready", null, 200),
            new Endpoint("/v1/nothing-here", null, 404));

    @BeforeAll
    static void start() throws Exception {
        server = new TestServer(ServerConfig.defaults().withApiKeys(new ApiKeys(List.of("sk-one", "sk-two"))), 4096, true);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static HttpResponse<String> call(Endpoint e, String... headers) throws Exception {
        return e.body() == null ? server.get(e.path(), headers) : server.post(e.path(), e.body(), headers);
    }

    @Test
    void everyEndpointButLivenessNeedsAKey() throws Exception {
        for (Endpoint e : GUARDED) {
            HttpResponse<String> none = call(e);
            assertEquals(401, none.statusCode(), e.path());
            assertTrue(none.body().contains("\"code\":\"invalid_api_key\""), none.body());
            assertEquals(401, call(e, "Authorization", "Bearer sk-wrong").statusCode(), e.path());
            assertEquals(401, call(e, "Authorization", "Bearer sk-on").statusCode(), "a prefix is not a key");
            assertEquals(401, call(e, "Authorization", "Basic sk-one").statusCode(), e.path());
            assertEquals(e.okStatus(), call(e, "Authorization", "Bearer sk-one").statusCode(), e.path());
            assertEquals(e.okStatus(), call(e, "Authorization", "Bearer sk-two").statusCode(), e.path());
            assertEquals(e.okStatus(), call(e, "x-api-key", "sk-two").statusCode(), e.path());
        }
        assertEquals(200, server.get("/health").statusCode());
        assertEquals(200, server.get("/v1/health/live").statusCode());
    }

    @Test
    void keysAreComparedExactly() {
        ApiKeys keys = new ApiKeys(List.of("secret"));
        assertTrue(keys.required());
        assertTrue(keys.accepts("Bearer secret", null));
        assertTrue(keys.accepts("bearer secret", null));
        assertFalse(keys.accepts("Bearer secret2", null));
        assertFalse(keys.accepts("Bearer ", null));
        assertFalse(keys.accepts(null, null));
        assertFalse(keys.accepts(null, "Secret"));
        assertTrue(ApiKeys.none().accepts(null, null));
    }

    @Test
    void aRequestWithoutAKeyIsRefusedBeforeItsBodyIsRead() throws Exception {
        // Announces 30 MB and sends none of it: the answer must not wait for (or buffer) the body.
        try (java.net.Socket s = new java.net.Socket("127.0.0.1", server.server.port())) {
            s.setSoTimeout(3000);
            s.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Type: application/json"
                    + "\r\nContent-Length: 31457280\r\n\r\n{").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            // The answer comes while the body is still owed (the connection closes later, when it ends or lingers out).
            StringBuilder raw = new StringBuilder();
            byte[] buf = new byte[4096];
            for (int n; !raw.toString().contains("invalid_api_key") && (n = s.getInputStream().read(buf)) > 0; ) {
                raw.append(new String(buf, 0, n, java.nio.charset.StandardCharsets.UTF_8));
            }
            assertTrue(raw.toString().startsWith("HTTP/1.1 401 "), raw.toString());
            assertTrue(raw.toString().contains("invalid_api_key"), raw.toString());
        }
    }

    @Test
    void aClientWithoutAKeyThatSendsItsWholeBodyFirstStillReadsThe401() throws Exception {
        byte[] body = new byte[16 << 20];
        java.util.Arrays.fill(body, (byte) 'x');
        try (java.net.Socket s = new java.net.Socket("127.0.0.1", server.server.port())) {
            s.setSoTimeout(5000);
            var out = s.getOutputStream();
            out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Length: " + body.length + "\r\n\r\n")
                    .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            for (int i = 0; i < body.length; i += 64 << 10) {
                out.write(body, i, 64 << 10);
            }
            out.flush();
            String raw = new String(s.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            assertTrue(raw.startsWith("HTTP/1.1 401 "), raw);
        }
    }
}
