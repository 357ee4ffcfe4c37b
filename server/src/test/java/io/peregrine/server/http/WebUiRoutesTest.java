package io.peregrine.server.http;

import io.peregrine.server.app.HttpServer;
import io.peregrine.server.app.ServerConfig;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.server.auth.ApiKeys;
import io.peregrine.server.fakes.TestServer;
import io.peregrine.server.metrics.ServerMetrics;
import io.peregrine.server.serving.ServingState;
import io.peregrine.server.tracing.Tracing;
import io.peregrine.server.webui.WebUi;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The chat page's files: served without a key (the API stays behind it), confined to their folders, off with --no-web-ui. */
class WebUiRoutesTest {

    @Test
    void pageAndLibrariesLoadWithoutTheKeyWhileTheApiWantsIt() throws Exception {
        try (TestServer server = new TestServer(ServerConfig.defaults().withApiKeys(new ApiKeys(List.of("k1"))), 4096,
                true)) {
            HttpResponse<String> page = server.get("/");
            assertEquals(200, page.statusCode());
            assertTrue(page.headers().firstValue("content-type").orElse("").startsWith("text/html"));
            assertTrue(page.headers().firstValue("content-security-policy").orElse("").contains("default-src 'self'"));
            assertTrue(page.body().contains("/ui/app.js"));
            // Every script and style the page names is served (the WebJar versions were filled in at build time).
            var refs = java.util.regex.Pattern.compile("(?:src|href)=\"(/[^\"]+)\"").matcher(page.body());
            int n = 0;
            while (refs.find()) {
                HttpResponse<String> r = server.get(refs.group(1));
                assertEquals(200, r.statusCode(), refs.group(1));
                n++;
            }
            assertEquals(6, n, "marked, DOMPurify, highlight.js (+ its style), app.js, app.css");
            assertEquals("text/javascript; charset=utf-8", server.get("/ui/app.js").headers().firstValue("content-type")
                    .orElseThrow());
            assertEquals(401, server.get("/v1/models").statusCode(), "the API still needs the key");
            assertEquals(200, server.get("/v1/models", "Authorization", "Bearer k1").statusCode());
        }
    }

    @Test
    void nothingOutsideThePageFoldersIsServed() throws Exception {
        try (TestServer server = new TestServer()) {
            assertEquals(404, server.get("/ui/nope.js").statusCode());
            assertEquals(404, server.get("/ui/").statusCode());
            assertEquals(404, server.get("/ui/..%2F..%2Flogging.properties").statusCode());
            assertEquals(404, server.get("/webjars/../logging.properties").statusCode());
            assertEquals(404, server.get("/webjars/marked/").statusCode());
            assertEquals(405, server.post("/", "{}").statusCode());
        }
    }

    @Test
    void noWebUiMakesThePageA404() throws Exception {
        ServingState state = new ServingState();
        ServerMetrics metrics = new ServerMetrics("m", state::stats);
        HttpServer server = HttpServer.start(ServerConfig.defaults().withPort(0), state, metrics, WebUi.off(),
                Tracing.off());
        HttpClient http = HttpClient.newHttpClient();
        try {
            for (String path : List.of("/", "/ui/app.js", "/index.html")) {
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + server.port() + path)).build(), HttpResponse.BodyHandlers.ofString());
                assertEquals(404, r.statusCode(), path);
            }
        } finally {
            http.shutdownNow();
            server.close();
            metrics.close();
        }
    }
}
