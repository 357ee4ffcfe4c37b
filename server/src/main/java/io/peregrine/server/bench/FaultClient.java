package io.peregrine.server.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;

/**
 * Misbehaving clients over raw sockets: only a socket lets a client hang up at an exact point, stop reading
 * with a small receive window, or send bytes no HTTP library would.
 */
public final class FaultClient {
    /** The broken requests, one chosen per request by its index. */
    enum Malformation { TRUNCATED_JSON, WRONG_TYPES, NOT_JSON, INVALID_UTF8, BODY_CUT_SHORT }

    private final BenchOptions options;
    private final String host;
    private final int port;
    private final String pathPrefix;

    public FaultClient(BenchOptions options) {
        this.options = options;
        URI u = options.baseUrl();
        this.host = u.getHost();
        this.port = u.getPort() > 0 ? u.getPort() : 80;
        this.pathPrefix = u.getRawPath() == null ? "" : u.getRawPath();
    }

    public RequestOutcome send(int index, Fault fault, String body) {
        try {
            return switch (fault) {
                case DISCONNECT -> disconnect(index, body);
                case MALFORMED -> malformed(index, body);
                case SLOW_READER -> slowReader(index, body);
                case NONE -> throw new IllegalArgumentException("not a fault");
            };
        } catch (SocketTimeoutException e) {
            return RequestOutcome.failed(index, fault, "no answer within " + options.requestTimeout());
        } catch (IOException e) {
            return RequestOutcome.failed(index, fault, HttpBenchClient.describe(e));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return RequestOutcome.failed(index, fault, "interrupted");
        }
    }

    private Socket open(int receiveBuffer) throws IOException {
        Socket s = new Socket();
        if (receiveBuffer > 0) {
            s.setReceiveBufferSize(receiveBuffer); // before connect, so the TCP window is small from the start
        }
        s.connect(new InetSocketAddress(host, port), 10_000);
        s.setSoTimeout((int) Math.min(Integer.MAX_VALUE, options.requestTimeout().toMillis()));
        return s;
    }

    private byte[] head(int contentLength) {
        StringBuilder h = new StringBuilder();
        h.append("POST ").append(pathPrefix).append(options.endpoint().path()).append(" HTTP/1.1\r\n")
                .append("Host: ").append(host).append(':').append(port).append("\r\n")
                .append("Content-Type: application/json\r\n")
                .append("Content-Length: ").append(contentLength).append("\r\n");
        if (options.apiKey() != null) {
            h.append("Authorization: Bearer ").append(options.apiKey()).append("\r\n");
        }
        return h.append("\r\n").toString().getBytes(StandardCharsets.US_ASCII);
    }

    private void write(Socket s, byte[] body) throws IOException {
        OutputStream out = s.getOutputStream();
        out.write(head(body.length));
        out.write(body);
        out.flush();
    }

    /** Hangs up once the response has begun (a streamed one: after its first data event). */
    private RequestOutcome disconnect(int index, String body) throws IOException, InterruptedException {
        try (Socket s = open(0)) {
            write(s, body.getBytes(StandardCharsets.UTF_8));
            if (!options.stream()) {
                // A non-streamed answer comes whole: hang up while the request is queued or running.
                Thread.sleep(20);
                return RequestOutcome.faultPlayed(index, Fault.DISCONNECT);
            }
            String got = readUntil(s.getInputStream(), "data:", 64 * 1024);
            return got.startsWith("HTTP/1.1 200") ? RequestOutcome.faultPlayed(index, Fault.DISCONNECT)
                    : RequestOutcome.failed(index, Fault.DISCONNECT, "before hanging up got: " + statusLine(got));
        }
    }

    /** Stops reading after the headers for the pause, with a 4 KiB receive buffer, then hangs up. */
    private RequestOutcome slowReader(int index, String body) throws IOException, InterruptedException {
        try (Socket s = open(4096)) {
            write(s, body.getBytes(StandardCharsets.UTF_8));
            String got = readUntil(s.getInputStream(), "\r\n\r\n", 16 * 1024);
            if (!got.startsWith("HTTP/1.1 200")) {
                return RequestOutcome.failed(index, Fault.SLOW_READER, "got: " + statusLine(got));
            }
            Thread.sleep(options.slowReaderPause().toMillis());
            return RequestOutcome.faultPlayed(index, Fault.SLOW_READER);
        }
    }

    /** Sends one of several broken requests; the server must answer 4xx (or, for a cut body, just cope). */
    private RequestOutcome malformed(int index, String body) throws IOException {
        Malformation kind = Malformation.values()[index % Malformation.values().length];
        byte[] bytes = switch (kind) {
            case TRUNCATED_JSON -> body.substring(0, body.length() / 2).getBytes(StandardCharsets.UTF_8);
            case WRONG_TYPES -> body.replaceFirst("\"stream\":(true|false)", "\"stream\":\"maybe\"")
                    .replaceFirst("\"max_(completion_)?tokens\":\\d+", "\"max_tokens\":\"ten\"")
                    .getBytes(StandardCharsets.UTF_8);
            case NOT_JSON -> "this is not json".getBytes(StandardCharsets.UTF_8);
            case INVALID_UTF8 -> {
                byte[] b = body.getBytes(StandardCharsets.UTF_8);
                // A UTF-8 lead byte followed by ASCII where the colon after "model" was: invalid both as
                // UTF-8 and, however a lenient decoder repairs it, as JSON.
                int at = body.indexOf("\"model\"") + "\"model\"".length();
                b[at] = (byte) 0xC3;
                b[at + 1] = (byte) 0x28;
                yield b;
            }
            case BODY_CUT_SHORT -> body.getBytes(StandardCharsets.UTF_8);
        };
        try (Socket s = open(0)) {
            if (kind == Malformation.BODY_CUT_SHORT) {
                // Promise the whole body, send a third of it, and leave: the server must drop the half request.
                OutputStream out = s.getOutputStream();
                out.write(head(bytes.length));
                out.write(bytes, 0, bytes.length / 3);
                out.flush();
                return RequestOutcome.faultPlayed(index, Fault.MALFORMED);
            }
            write(s, bytes);
            String status = statusLine(readUntil(s.getInputStream(), "\r\n", 4096));
            return status.matches("HTTP/1\\.1 4\\d\\d.*") ? RequestOutcome.faultPlayed(index, Fault.MALFORMED)
                    : RequestOutcome.failed(index, Fault.MALFORMED, kind + " answered " + status + ", expected 4xx");
        }
    }

    /** Reads until {@code marker} appears, the stream ends or {@code limit} bytes came; returns what came. */
    private static String readUntil(InputStream in, String marker, int limit) throws IOException {
        StringBuilder got = new StringBuilder();
        byte[] buf = new byte[1024];
        while (got.indexOf(marker) < 0 && got.length() < limit) {
            int n = in.read(buf);
            if (n < 0) {
                break;
            }
            got.append(new String(buf, 0, n, StandardCharsets.ISO_8859_1));
        }
        return got.toString();
    }

    private static String statusLine(String response) {
        if (response.isEmpty()) {
            return "nothing (connection closed)";
        }
        int eol = response.indexOf("\r\n");
        return eol < 0 ? StreamMeter.abbreviate(response) : response.substring(0, eol);
    }
}
