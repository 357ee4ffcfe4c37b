package io.peregrine.server.media;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.engine.checkpoint.demo.DemoCheckpoint;
import io.peregrine.engine.media.MediaBudget;
import io.peregrine.engine.media.pdf.PdfLimits;
import io.peregrine.engine.media.video.VideoLimits;
import io.peregrine.engine.vision.encoder.EncoderPlacement;
import io.peregrine.engine.vision.encoder.EncoderTpMode;
import io.peregrine.server.app.HttpServer;
import io.peregrine.server.app.ServerConfig;
import io.peregrine.server.metrics.ServerMetrics;
import io.peregrine.server.serving.ServingState;
import io.peregrine.server.wiring.RuntimeLoader;
import java.awt.Color;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --mm-encoder-backend device} through the server (real HTTP over loopback): the tower on the model's backend
 * (here the CPU backend, standing in for the GPU) answers an image request with the same greedy completion as the
 * ONNX path, and two images in one request go through the batched encoder.
 */
class DeviceVisionHttpTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @Test
    void deviceTowerAnswersLikeTheOnnxPath() throws Exception {
        Path ck = DemoCheckpoint.ensure(tmp.resolve("tiny"), "tiny");
        String body = MultimodalHttpTest.request(
                MultimodalHttpTest.part("image_url", MultimodalHttpTest.dataUrl("image/png", MultimodalHttpTest.png(90, 60, Color.ORANGE))),
                MultimodalHttpTest.part("image_url", MultimodalHttpTest.dataUrl("image/png", MultimodalHttpTest.png(150, 120, Color.GREEN))))
                .replace("\"max_tokens\":2", "\"max_tokens\":6");
        JsonNode onnx = complete(ck, EncoderPlacement.ONNX, body);
        JsonNode device = complete(ck, EncoderPlacement.DEVICE, body);
        assertEquals(onnx.at("/usage/prompt_tokens").asInt(), device.at("/usage/prompt_tokens").asInt());
        assertEquals(onnx.at("/choices/0/message/content").asText(), device.at("/choices/0/message/content").asText(),
                "greedy completion, ONNX vs the Backend tower");
    }

    private JsonNode complete(Path ck, EncoderPlacement placement, String body) throws Exception {
        ServingState state = new ServingState();
        try (ServerMetrics metrics = new ServerMetrics("tiny", state::stats);
             HttpServer server = HttpServer.start(ServerConfig.defaults().withPort(0), state, metrics);
             HttpClient http = HttpClient.newHttpClient()) {
            MediaFetchPolicy fetch = new MediaFetchPolicy(null, false, false, Duration.ofSeconds(2), 8L << 20);
            MediaBudget budget = new MediaBudget(4096, VideoLimits.DEFAULT, new PdfLimits(8L << 20, 4));
            var media = new RuntimeLoader.MediaOptions(true, tmp.resolve("onnx"), fetch, budget, 64L << 20, false,
                    placement, EncoderTpMode.WEIGHTS);
            var rt = RuntimeLoader.load(new RuntimeLoader.Options(ck, List.of("tiny"), 4096, 4, 16, 512, 32L << 20, 16,
                    "cpu", "tiny", media), state);
            state.ready(rt);
            try {
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(
                                URI.create("http://127.0.0.1:" + server.port() + "/v1/chat/completions"))
                        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(200, r.statusCode(), r.body());
                return JSON.readTree(r.body());
            } finally {
                rt.engine().close();
            }
        }
    }
}
