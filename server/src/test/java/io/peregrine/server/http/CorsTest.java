package io.peregrine.server.http;

import io.peregrine.server.app.ServerConfig;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.server.auth.ApiKeys;
import io.peregrine.server.fakes.TestServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;

/** CORS over raw HTTP, as a browser sends it: preflights without a key, allow headers on the real answers. */
class CorsTest {
    private static final String APP = "https://app.example";
    private static final String KEY = "Authorization: Bearer sk-cors\r\n";
    private static final String CHAT = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

    private static TestServer server(CorsPolicy cors) throws InterruptedException {
        return new TestServer(ServerConfig.defaults().withApiKeys(new ApiKeys(List.of("sk-cors"))).withCors(cors),
                4096, true);
    }

    /** One request with Connection: close; the whole answer, lower-cased header names left as sent. */
    private static String send(TestServer s, String method, String path, String headers, String body)
            throws IOException {
        String b = body == null ? "" : body;
        String req = method + " " + path + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" + headers
                + (body == null ? "" : "Content-Type: application/json\r\nContent-Length: "
                        + b.getBytes(StandardCharsets.UTF_8).length + "\r\n") + "\r\n" + b;
        try (Socket sock = new Socket("127.0.0.1", s.server.port())) {
            sock.setSoTimeout(5000);
            sock.getOutputStream().write(req.getBytes(StandardCharsets.UTF_8));
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            InputStream in = sock.getInputStream();
            in.transferTo(out);
            return out.toString(StandardCharsets.UTF_8);
        }
    }

    private static String header(String raw, String name) {
        String head = raw.substring(0, raw.indexOf("\r\n\r\n"));
        for (String line : head.split("\r\n")) {
            int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase(name)) {
                return line.substring(colon + 1).trim();
            }
        }
        return null;
    }

    private static int status(String raw) {
        return Integer.parseInt(raw.substring(9, 12));
    }

    private static String preflight(String origin, String method, String headers) {
        return "Origin: " + origin + "\r\nAccess-Control-Request-Method: " + method + "\r\n"
                + (headers == null ? "" : "Access-Control-Request-Headers: " + headers + "\r\n");
    }

    @Test
    void preflightIsAnsweredWithoutAKeyAndRealAnswersCarryTheOrigin() throws Exception {
        try (TestServer s = server(new CorsPolicy(List.of(APP), List.of("*"), List.of("*"), false))) {
            String pre = send(s, "OPTIONS", "/v1/chat/completions",
                    preflight(APP, "POST", "authorization, content-type"), null);
            assertEquals(204, status(pre), pre);
            assertEquals(APP, header(pre, "Access-Control-Allow-Origin"));
            assertTrue(header(pre, "Access-Control-Allow-Methods").contains("POST"), pre);
            assertEquals("authorization, content-type", header(pre, "Access-Control-Allow-Headers"));
            assertEquals("600", header(pre, "Access-Control-Max-Age"));
            assertEquals("Origin", header(pre, "Vary"));
            assertEquals(null, header(pre, "Content-Length"), "a 204 has no body length");
            assertEquals(null, header(pre, "Access-Control-Allow-Credentials"));

            String chat = send(s, "POST", "/v1/chat/completions", KEY + "Origin: " + APP + "\r\n", CHAT);
            assertEquals(200, status(chat), chat);
            assertEquals(APP, header(chat, "Access-Control-Allow-Origin"));
            String stream = send(s, "POST", "/v1/chat/completions", KEY + "Origin: " + APP + "\r\n",
                    CHAT.replace("{\"messages\"", "{\"stream\":true,\"messages\""));
            assertEquals(200, status(stream), stream);
            assertTrue(header(stream, "Content-Type").startsWith("text/event-stream"), stream);
            assertEquals(APP, header(stream, "Access-Control-Allow-Origin"));

            // The page can read why it was refused.
            String denied = send(s, "POST", "/v1/chat/completions", "Origin: " + APP + "\r\n", CHAT);
            assertEquals(401, status(denied), denied);
            assertEquals(APP, header(denied, "Access-Control-Allow-Origin"));
            String err = send(s, "GET", "/v1/nope", KEY + "Origin: " + APP + "\r\n", null);
            assertEquals(404, status(err), err);
            assertEquals(APP, header(err, "Access-Control-Allow-Origin"));

            // Other origins get nothing that would let the browser show them the answer.
            String other = send(s, "GET", "/v1/models", KEY + "Origin: https://evil.example\r\n", null);
            assertEquals(200, status(other), other);
            assertEquals(null, header(other, "Access-Control-Allow-Origin"));
            String otherPre = send(s, "OPTIONS", "/v1/models", preflight("https://evil.example", "GET", null), null);
            assertEquals(400, status(otherPre), otherPre);
            assertTrue(otherPre.contains("Disallowed CORS origin 'https://evil.example'"), otherPre);
            assertEquals(null, header(otherPre, "Access-Control-Allow-Origin"));

            // A plain OPTIONS (not a preflight) is an ordinary request: it needs the key, and no route takes it.
            assertEquals(401, status(send(s, "OPTIONS", "/v1/models", "Origin: " + APP + "\r\n", null)));
            assertEquals(405, status(send(s, "OPTIONS", "/v1/models", KEY, null)));
        }
    }

    @Test
    void restrictedMethodsHeadersAndCredentials() throws Exception {
        try (TestServer s = server(new CorsPolicy(List.of("*"), List.of("GET", "POST"),
                List.of("Authorization", "Content-Type"), true))) {
            String ok = send(s, "OPTIONS", "/v1/models", preflight("http://localhost:3000", "post",
                    "Content-Type"), null);
            assertEquals(204, status(ok), ok);
            // With credentials a browser refuses "*": the origin is echoed.
            assertEquals("http://localhost:3000", header(ok, "Access-Control-Allow-Origin"));
            assertEquals("true", header(ok, "Access-Control-Allow-Credentials"));
            assertEquals("GET, POST", header(ok, "Access-Control-Allow-Methods"));
            assertEquals("authorization, content-type", header(ok, "Access-Control-Allow-Headers"));

            String badMethod = send(s, "OPTIONS", "/v1/models", preflight("http://localhost:3000", "DELETE",
                    "X-Custom, Authorization"), null);
            assertEquals(400, status(badMethod), badMethod);
            assertTrue(badMethod.contains("method 'DELETE'") && badMethod.contains("header 'x-custom'"), badMethod);
            assertFalse(badMethod.toLowerCase(Locale.ROOT).contains("header 'authorization'"), badMethod);

            String models = send(s, "GET", "/v1/models", KEY + "Origin: http://localhost:3000\r\n", null);
            assertEquals("http://localhost:3000", header(models, "Access-Control-Allow-Origin"));
            assertEquals("true", header(models, "Access-Control-Allow-Credentials"));
        }
        try (TestServer s = server(new CorsPolicy(List.of("*"), List.of("*"), List.of("*"), false))) {
            String models = send(s, "GET", "/v1/models", KEY + "Origin: http://localhost:3000\r\n", null);
            assertEquals("*", header(models, "Access-Control-Allow-Origin"));
            assertEquals(null, header(models, "Vary"));
        }
    }

    @Test
    void withoutOriginsThereIsNoCors() throws Exception {
        try (TestServer s = server(CorsPolicy.none())) {
            String pre = send(s, "OPTIONS", "/v1/chat/completions", preflight(APP, "POST", null), null);
            assertEquals(401, status(pre), "no preflight exemption without CORS: " + pre);
            String chat = send(s, "POST", "/v1/chat/completions", KEY + "Origin: " + APP + "\r\n", CHAT);
            assertEquals(200, status(chat), chat);
            assertFalse(chat.toLowerCase(Locale.ROOT).contains("access-control-"), chat);
        }
    }
}
