package io.peregrine.server.http;

import io.peregrine.server.app.ServerConfig;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.server.fakes.TestServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Raw-socket abuse of the HTTP layer: what a broken client, a proxy or an attacker sends, and what a well-behaved
 * server must answer (a status with an OpenAI error body, in order, and a closed connection when the byte stream
 * can no longer be trusted).
 */
class HostileClientTest {
    private static final Pattern STATUS = Pattern.compile("HTTP/1\\.1 (\\d{3}) ");
    private static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        server = new TestServer(ServerConfig.defaults().withRequestReadTimeout(Duration.ofMillis(400))
                .withIdleConnectionTimeout(Duration.ofMillis(1500)), 256, true);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    /** Sends bytes, then reads until the server closes the connection or {@code waitMillis} pass. */
    private static String exchange(byte[] request, int waitMillis) throws IOException {
        try (Socket s = new Socket("127.0.0.1", server.server.port())) {
            s.setSoTimeout(waitMillis);
            s.getOutputStream().write(request);
            s.getOutputStream().flush();
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            InputStream in = s.getInputStream();
            byte[] buf = new byte[8192];
            try {
                for (int n; (n = in.read(buf)) > 0; ) {
                    out.write(buf, 0, n);
                }
            } catch (SocketTimeoutException e) {
                out.write("<<still open>>".getBytes(StandardCharsets.US_ASCII));
            }
            return out.toString(StandardCharsets.UTF_8);
        }
    }

    private static byte[] request(String method, String path, String body, boolean close) {
        StringBuilder sb = new StringBuilder(method + " " + path + " HTTP/1.1\r\nHost: t\r\n");
        if (body != null) {
            sb.append("Content-Type: application/json\r\nContent-Length: ")
                    .append(body.getBytes(StandardCharsets.UTF_8).length).append("\r\n");
        }
        if (close) {
            sb.append("Connection: close\r\n");
        }
        sb.append("\r\n");
        if (body != null) {
            sb.append(body);
        }
        return sb.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static List<Integer> statuses(String raw) {
        List<Integer> out = new ArrayList<>();
        Matcher m = STATUS.matcher(raw);
        while (m.find()) {
            out.add(Integer.parseInt(m.group(1)));
        }
        return out;
    }

    private static void assertNoInternals(String raw) {
        assertFalse(raw.contains("java.") || raw.contains("io.netty") || raw.contains("Exception"), raw);
    }

    @Test
    void badPercentEncodingInThePathIsA400NotASilentHangUp() throws Exception {
        String raw = exchange(request("GET", "/v1/models/%zz", null, true), 3000);
        assertEquals(List.of(400), statuses(raw), raw);
        assertTrue(raw.contains("\"error\""), raw);
        assertNoInternals(raw);
    }

    @Test
    void malformedRequestIsA400WithoutJavaNamesAndTheConnectionIsClosed() throws Exception {
        // No colon in a header line: the decoder cannot tell where this request ends, so nothing after it on
        // the connection can be trusted.
        byte[] bad = ("POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nBadHeader\r\nContent-Length: 2\r\n\r\n{}")
                .getBytes(StandardCharsets.US_ASCII);
        String raw = exchange(bad, 3000);
        assertEquals(List.of(400), statuses(raw), raw);
        assertFalse(raw.contains("<<still open>>"), "the connection stays open after a malformed request: " + raw);
        assertNoInternals(raw);

        String longLine = exchange(request("GET", "/v1/models?" + "a".repeat(10_000), null, false), 3000);
        assertEquals(List.of(414), statuses(longLine), longLine);
        assertFalse(longLine.contains("<<still open>>"), longLine);
        assertNoInternals(longLine);

        String bigHeader = ("GET /v1/models HTTP/1.1\r\nHost: t\r\nX-Big: " + "a".repeat(20_000) + "\r\n\r\n");
        String raw3 = exchange(bigHeader.getBytes(StandardCharsets.US_ASCII), 3000);
        assertEquals(List.of(431), statuses(raw3), raw3);
        assertFalse(raw3.contains("<<still open>>"), raw3);
        assertNoInternals(raw3);
    }

    /** Sends bytes, half-closes (FIN, as {@code nc -N} does), then reads until the server closes. */
    private static String halfClosed(byte[] request) throws IOException {
        try (Socket s = new Socket("127.0.0.1", server.server.port())) {
            s.setSoTimeout(5000);
            s.getOutputStream().write(request);
            s.getOutputStream().flush();
            s.shutdownOutput();
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void aRequestFollowedByAHalfCloseStillGetsItsAnswerOnEveryEndpoint() throws Exception {
        String empty = halfClosed("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
                .getBytes(StandardCharsets.US_ASCII));
        assertEquals(List.of(400), statuses(empty), empty);
        String chat = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":3}";
        String answered = halfClosed(request("POST", "/v1/chat/completions", chat, false));
        assertEquals(List.of(200), statuses(answered), answered);
        assertTrue(answered.contains("\"object\":\"chat.completion\""), answered);
        String streamed = halfClosed(request("POST", "/v1/chat/completions",
                chat.replace("{", "{\"stream\":true,"), false));
        assertEquals(List.of(200), statuses(streamed), streamed);
        assertTrue(streamed.contains("data: [DONE]"), streamed);
        for (String path : List.of("/v1/completions", "/v1/responses", "/v1/messages")) {
            String body = path.equals("/v1/completions") ? "{\"prompt\":\"hi\",\"max_tokens\":2}"
                    : path.equals("/v1/responses") ? "{\"model\":\"kimi-k2.5\",\"input\":\"hi\"}"
                    : "{\"model\":\"kimi-k2.5\",\"max_tokens\":4,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
            String raw = halfClosed(request("POST", path, body, false));
            assertEquals(List.of(200), statuses(raw), path + ": " + raw);
        }
        // Pipelined, then half-closed: every request is answered, in order, then the connection closes.
        ByteArrayOutputStream two = new ByteArrayOutputStream();
        two.write(request("POST", "/v1/chat/completions", chat, false));
        two.write(request("GET", "/v1/models", null, false));
        String both = halfClosed(two.toByteArray());
        assertEquals(List.of(200, 200), statuses(both), both);
    }

    @Test
    void aClientThatHangsUpWithAPlainFinIsStillAbortedPromptly() throws Exception {
        try (TestServer own = new TestServer()) {
            own.engine.started = new java.util.concurrent.CountDownLatch(1);
            own.engine.script(r -> io.peregrine.server.fakes.FakeEngine.Script.holdUntilAborted());
            String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"go\"}]}";
            long closedAt;
            try (Socket s = new Socket("127.0.0.1", own.server.port())) {
                s.getOutputStream().write(request("POST", "/v1/chat/completions", body, false));
                s.getOutputStream().flush();
                assertTrue(own.engine.started.await(5, java.util.concurrent.TimeUnit.SECONDS));
                closedAt = System.nanoTime();
            } // close() with nothing unread: a FIN, exactly what a half-close sends
            while (own.engine.aborted.get() == 0) {
                assertTrue(System.nanoTime() - closedAt < java.util.concurrent.TimeUnit.SECONDS.toNanos(5),
                        "the request was never aborted");
                Thread.sleep(10);
            }
            long millis = (System.nanoTime() - closedAt) / 1_000_000;
            // Two probes of 200 ms find it; the bound leaves room for a loaded CI machine.
            assertTrue(millis < 3000, "aborted after " + millis + " ms");
        }
    }

    @Test
    void aTransferCodingOtherThanChunkedIsA501NotABodyReadAsPlainJson() throws Exception {
        String body = "{\"prompt\":\"hi\",\"max_tokens\":1}";
        String chunked = Integer.toHexString(body.length()) + "\r\n" + body + "\r\n0\r\n\r\n";
        String gzip = exchange(("POST /v1/completions HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                + "Transfer-Encoding: gzip, chunked\r\n\r\n" + chunked).getBytes(StandardCharsets.US_ASCII), 3000);
        assertEquals(List.of(501), statuses(gzip), gzip);
        assertTrue(gzip.contains("unsupported_transfer_encoding"), gzip);
        assertFalse(gzip.contains("<<still open>>"), gzip);
        assertNoInternals(gzip);
        String messages = exchange(("POST /v1/messages HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: x-custom\r\n"
                + "Transfer-Encoding: chunked\r\n\r\n" + chunked).getBytes(StandardCharsets.US_ASCII), 3000);
        assertEquals(List.of(501), statuses(messages), messages);
        assertTrue(messages.contains("\"type\":\"error\""), "the Messages API's error shape: " + messages);
        String unframed = exchange(("POST /v1/completions HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n"
                + body).getBytes(StandardCharsets.US_ASCII), 3000);
        // RFC 9112 6.3: without a final chunked the body's length is unknown: a 400 (Netty's decoder), then close.
        assertEquals(List.of(400), statuses(unframed), unframed);
        assertFalse(unframed.contains("<<still open>>"), unframed);
        // Plain chunked is served, with any letter case.
        String plain = exchange(("POST /v1/completions HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: Chunked\r\n"
                + "Connection: close\r\n\r\n" + chunked).getBytes(StandardCharsets.US_ASCII), 3000);
        assertEquals(List.of(200), statuses(plain), plain);
    }

    @Test
    void pipelinedRequestsAreAnsweredInOrderAndNoneIsDropped() throws Exception {
        String chat = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":3}";
        String completion = "{\"prompt\":\"hi\",\"max_tokens\":3}";
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        all.write(request("GET", "/v1/models", null, false));
        all.write(request("POST", "/v1/chat/completions", chat, false));
        all.write(request("POST", "/v1/completions", completion, false));
        all.write(request("GET", "/nope", null, false));
        all.write(request("GET", "/health", null, true));
        String raw = exchange(all.toByteArray(), 5000);
        assertEquals(List.of(200, 200, 200, 404, 200), statuses(raw), raw);
        int models = raw.indexOf("\"object\":\"list\"");
        int chatAt = raw.indexOf("\"object\":\"chat.completion\"");
        int textAt = raw.indexOf("\"object\":\"text_completion\"");
        int notFound = raw.indexOf("\"code\":\"not_found\"");
        assertTrue(models >= 0 && models < chatAt && chatAt < textAt && textAt < notFound, raw);
        assertFalse(raw.contains("<<still open>>"), raw);
    }

    @Test
    void aClientThatNeverFinishesItsRequestGetsA408AndIsDisconnected() throws Exception {
        long t0 = System.nanoTime();
        // Headers trickled and never ended (slowloris), then a body shorter than its Content-Length.
        String headers = exchange("POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nX-A: b"
                .getBytes(StandardCharsets.US_ASCII), 4000);
        assertEquals(List.of(408), statuses(headers), headers);
        assertFalse(headers.contains("<<still open>>"), headers);
        String body = exchange("POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{\"mess"
                .getBytes(StandardCharsets.US_ASCII), 4000);
        assertEquals(List.of(408), statuses(body), body);
        assertTrue(body.contains("\"error\""), body);
        assertTrue(System.nanoTime() - t0 < 6_000_000_000L);
    }

    @Test
    void aBodyThatKeepsMovingIsNotCutOffThoughItTakesLongerThanTheTimeout() throws Exception {
        String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":3}";
        try (Socket s = new Socket("127.0.0.1", server.server.port())) {
            s.setSoTimeout(4000);
            var out = s.getOutputStream();
            out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: "
                    + body.length() + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            int piece = body.length() / 4 + 1;
            for (int i = 0; i < body.length(); i += piece) {
                Thread.sleep(250); // each pause within the 400 ms allowed, 1 s in all
                out.write(body.substring(i, Math.min(body.length(), i + piece)).getBytes(StandardCharsets.US_ASCII));
                out.flush();
            }
            String raw = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(List.of(200), statuses(raw), raw);
        }
    }

    @Test
    void aSlowButCompleteRequestAndAnIdleKeepAliveConnectionAreNotCutOff() throws Exception {
        // The deadline covers reading one request, not the time between requests or the time to answer one.
        try (Socket s = new Socket("127.0.0.1", server.server.port())) {
            s.setSoTimeout(4000);
            var out = s.getOutputStream();
            out.write(request("GET", "/health", null, false));
            out.flush();
            Thread.sleep(700); // idle between requests, longer than the read deadline
            out.write(request("GET", "/health", null, true));
            out.flush();
            String raw = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(List.of(200, 200), statuses(raw), raw);
        }
    }

    @Test
    void aHugeModelNameIsNotEchoedBackInFull() throws Exception {
        String name = "m".repeat(1 << 20);
        var r = server.post("/v1/chat/completions",
                "{\"model\":\"" + name + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertEquals(404, r.statusCode());
        assertTrue(r.body().length() < 1000, "the error echoes " + r.body().length() + " bytes");
        assertTrue(r.body().contains("1048576 characters"), r.body());
    }

    @Test
    void absoluteFormTargetsAndHeadOnReadableResourcesAreServed() throws Exception {
        String absolute = exchange(request("GET", "http://127.0.0.1/v1/models", null, true), 3000);
        assertEquals(List.of(200), statuses(absolute), absolute);
        assertTrue(absolute.contains("\"object\":\"list\""), absolute);
        String head = exchange(request("HEAD", "/v1/models", null, true), 3000);
        assertEquals(List.of(200), statuses(head), head);
        assertFalse(head.contains("\"object\""), "a HEAD answer has no body: " + head);
        String post = exchange(request("HEAD", "/v1/chat/completions", null, true), 3000);
        assertEquals(List.of(405), statuses(post), post);
    }

    @Test
    void aCompressedBodyIsA415ThatSaysSo() throws Exception {
        byte[] head = ("POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Encoding: gzip"
                + "\r\nContent-Length: 4\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
        ByteArrayOutputStream req = new ByteArrayOutputStream();
        req.write(head);
        req.write(new byte[] {0x1f, (byte) 0x8b, 8, 0});
        String raw = exchange(req.toByteArray(), 3000);
        assertEquals(List.of(415), statuses(raw), raw);
        assertTrue(raw.contains("Content-Encoding 'gzip'"), raw);
    }

    @Test
    void anIdleConnectionIsClosedButOneWaitingForItsAnswerIsNot() throws Exception {
        try (Socket idle = new Socket("127.0.0.1", server.server.port())) {
            idle.setSoTimeout(4000);
            long t0 = System.nanoTime();
            assertEquals(-1, idle.getInputStream().read(), "the server closes an idle connection");
            assertTrue(System.nanoTime() - t0 < 3_000_000_000L);
        }
        server.engine.script(r -> io.peregrine.server.fakes.FakeEngine.Script.queuedUntilAborted());
        int aborted = server.engine.aborted.get();
        try (Socket waiting = new Socket("127.0.0.1", server.server.port())) {
            waiting.setSoTimeout(2000);
            waiting.getOutputStream().write(request("POST", "/v1/chat/completions",
                    "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", false));
            waiting.getOutputStream().flush();
            // Silent for longer than the idle timeout, yet a request is in flight: it must not be cut.
            org.junit.jupiter.api.Assertions.assertThrows(SocketTimeoutException.class, () -> waiting.getInputStream().read());
            assertEquals(aborted, server.engine.aborted.get(), "the waiting request was aborted");
        } finally {
            server.engine.script(r -> io.peregrine.server.fakes.FakeEngine.Script.of(
                    io.peregrine.engine.runtime.FinishReason.STOP, "ok"));
        }
    }

    @Test
    void anHttp10KeepAliveClientIsToldTheConnectionStaysOpen() throws Exception {
        try (Socket s = new Socket("127.0.0.1", server.server.port())) {
            s.setSoTimeout(3000);
            byte[] get = "GET /v1/models HTTP/1.0\r\nConnection: keep-alive\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
            s.getOutputStream().write(get);
            s.getOutputStream().flush();
            StringBuilder raw = new StringBuilder();
            byte[] buf = new byte[4096];
            for (int n; !raw.toString().contains("\"object\":\"list\"") && (n = s.getInputStream().read(buf)) > 0; ) {
                raw.append(new String(buf, 0, n, StandardCharsets.UTF_8));
            }
            assertTrue(raw.toString().toLowerCase(java.util.Locale.ROOT).contains("connection: keep-alive"), raw.toString());
            s.getOutputStream().write("GET /health HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            String second = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(List.of(200), statuses(second), second);
        }
    }

    @Test
    void anHttp10StreamIsDelimitedByClosingTheConnection() throws Exception {
        String body = "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
        for (String connection : new String[] {"", "Connection: keep-alive\r\n"}) {
            String req = "POST /v1/chat/completions HTTP/1.0\r\n" + connection
                    + "Content-Type: application/json\r\nContent-Length: " + body.length() + "\r\n\r\n" + body;
            // A second request pipelined behind the stream: nothing may follow a close-delimited body.
            String raw = exchange((req + "GET /health HTTP/1.0\r\n\r\n").getBytes(StandardCharsets.US_ASCII), 3000);
            assertFalse(raw.endsWith("<<still open>>"), "the stream must end by closing: " + raw);
            assertEquals(List.of(200), statuses(raw), raw);
            String head = raw.substring(0, raw.indexOf("\r\n\r\n")).toLowerCase(java.util.Locale.ROOT);
            assertTrue(head.contains("content-type: text/event-stream"), head);
            assertTrue(head.contains("connection: close"), head);
            assertFalse(head.contains("transfer-encoding"), "no chunked encoding for HTTP/1.0: " + head);
            assertFalse(head.contains("content-length"), head);
            String events = raw.substring(raw.indexOf("\r\n\r\n") + 4);
            assertTrue(events.startsWith("data: {"), "raw SSE, no chunk sizes: " + events);
            assertTrue(events.endsWith("data: [DONE]\n\n"), events);
        }
        // HTTP/1.1 streams are still chunked.
        String raw = exchange(request("POST", "/v1/chat/completions",
                "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", true), 3000);
        assertTrue(raw.toLowerCase(java.util.Locale.ROOT).contains("transfer-encoding: chunked"), raw);
    }
}
