package io.peregrine.server.media;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The fetch rules without the model: addresses, redirects, caps, timeouts, local paths, data URLs. */
class MediaFetcherTest {
    static HttpServer origin;
    static String base;
    static final byte[] BODY = "fake-image-bytes".getBytes();

    @TempDir
    static Path tmp;

    @BeforeAll
    static void start() throws Exception {
        origin = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        origin.createContext("/img.png", ex -> {
            ex.getResponseHeaders().add("Content-Type", "image/png");
            ex.sendResponseHeaders(200, BODY.length);
            ex.getResponseBody().write(BODY);
            ex.close();
        });
        origin.createContext("/doc", ex -> {
            byte[] pdf = "%PDF-1.4 ...".getBytes();
            ex.getResponseHeaders().add("Content-Type", "application/pdf; charset=binary");
            ex.sendResponseHeaders(200, pdf.length);
            ex.getResponseBody().write(pdf);
            ex.close();
        });
        origin.createContext("/moved", ex -> {
            ex.getResponseHeaders().add("Location", "/img.png");
            ex.sendResponseHeaders(302, -1);
            ex.close();
        });
        origin.createContext("/loop", ex -> {
            ex.getResponseHeaders().add("Location", "/loop");
            ex.sendResponseHeaders(302, -1);
            ex.close();
        });
        origin.createContext("/big", ex -> {
            ex.sendResponseHeaders(200, 0);
            byte[] chunk = new byte[4096];
            for (int i = 0; i < 64; i++) {
                ex.getResponseBody().write(chunk);
            }
            ex.close();
        });
        origin.createContext("/slow", ex -> {
            try {
                Thread.sleep(5000);
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
            }
            ex.sendResponseHeaders(200, -1);
            ex.close();
        });
        origin.createContext("/trickle", ex -> {
            ex.sendResponseHeaders(200, 0);
            try {
                for (int i = 0; i < 80; i++) {
                    ex.getResponseBody().write('x');
                    ex.getResponseBody().flush();
                    Thread.sleep(100);
                }
            } catch (InterruptedException | java.io.IOException ignored) {
                // the client gave up
            }
            ex.close();
        });
        origin.createContext("/missing", ex -> {
            ex.sendResponseHeaders(404, -1);
            ex.close();
        });
        origin.setExecutor(java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()); // slow handlers in parallel
        origin.start();
        base = "http://127.0.0.1:" + origin.getAddress().getPort();
    }

    @AfterAll
    static void stop() {
        origin.stop(0);
    }

    static MediaFetcher fetcher(boolean http, boolean privateOk, Path dir) {
        return new MediaFetcher(new MediaFetchPolicy(dir, http, privateOk, Duration.ofMillis(800), 100_000));
    }

    static String refused(MediaFetcher f, String url) {
        return assertThrows(MediaFetchException.class, () -> f.fetch(url, "messages[0].content[0]")).getMessage();
    }

    @Test
    void httpWhenAllowedWithRedirectsCapsAndTimeouts() {
        MediaFetcher f = fetcher(true, true, null);
        FetchedMedia m = f.fetch(base + "/img.png", "x");
        assertArrayEquals(BODY, m.bytes());
        assertEquals("image/png", m.mediaType());
        assertArrayEquals(BODY, f.fetch(base + "/moved", "x").bytes());
        assertTrue(f.fetch(base + "/doc", "x").looksLikePdf());
        assertTrue(refused(f, base + "/loop").contains("redirects"));
        assertTrue(refused(f, base + "/big").contains("larger than the limit of 100000 bytes"));
        assertTrue(refused(f, base + "/missing").contains("HTTP 404"));
        long t0 = System.nanoTime();
        assertTrue(refused(f, base + "/slow").contains("failed"));
        assertTrue(System.nanoTime() - t0 < 3_000_000_000L, "the timeout did not cut the slow fetch (5 s)");
        t0 = System.nanoTime();
        assertTrue(refused(f, base + "/trickle").contains("the response body took longer than 800 ms"));
        // the whole trickle takes 8 s; the cut comes after the 0.8 s timeout (generous margin for a loaded machine)
        assertTrue(System.nanoTime() - t0 < 4_000_000_000L, "the timeout did not cut the trickling body");
    }

    @Test
    void httpIsOffByDefaultAndPrivateAddressesAreRefused() {
        String msg = refused(fetcher(false, false, null), base + "/img.png");
        assertTrue(msg.startsWith("messages[0].content[0]: http(s) media URLs are not allowed"), msg);
        MediaFetcher f = fetcher(true, false, null);
        assertTrue(refused(f, base + "/img.png").contains("loopback, private or link-local"));
        assertTrue(refused(f, "http://localhost:1/img.png").contains("loopback, private or link-local"));
        assertTrue(refused(f, "http://10.1.2.3/img.png").contains("loopback, private or link-local"));
    }

    @Test
    void nonPublicAddresses() throws Exception {
        for (String a : new String[] {"127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254",
                "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1",
                "::ffff:192.168.0.1"}) {
            assertTrue(NetworkGuard.isNonPublic(InetAddress.getByName(a)), a);
        }
        for (String a : new String[] {"8.8.8.8", "1.1.1.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8"}) {
            assertFalse(NetworkGuard.isNonPublic(InetAddress.getByName(a)), a);
        }
    }

    @Test
    void localFilesAndDataUrls() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("allowed"));
        Files.write(dir.resolve("a.png"), BODY);
        Files.write(tmp.resolve("secret.png"), BODY);
        Files.createSymbolicLink(dir.resolve("link.png"), tmp.resolve("secret.png"));
        MediaFetcher f = fetcher(false, false, dir);
        assertArrayEquals(BODY, f.fetch(dir.resolve("a.png").toString(), "x").bytes());
        assertArrayEquals(BODY, f.fetch(dir.resolve("a.png").toUri().toString(), "x").bytes());
        assertTrue(refused(f, dir.resolve("link.png").toString()).contains("outside the allowed media directory"));
        assertTrue(refused(f, dir + "/../secret.png").contains("outside the allowed media directory"));
        assertTrue(refused(fetcher(false, false, null), dir.resolve("a.png").toString())
                .contains("local media files are not allowed"));
        assertArrayEquals(BODY, f.fetch("data:image/png;base64,ZmFrZS1pbWFnZS1ieXRlcw==", "x").bytes());
        assertTrue(refused(f, "data:image/png;base64,%%%").contains("not valid base64"));
        assertTrue(refused(f, "gopher://x/").contains("unsupported media URL"));
    }
}
