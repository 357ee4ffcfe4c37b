package io.peregrine.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.spec.SpeculativeConfig;
import io.peregrine.server.chat.ReasoningField;
import io.peregrine.server.app.ServerConfig;
import io.peregrine.server.sampling.SamplingPolicy;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** vLLM-style flags become the server configuration. */
class ServeCommandTest {
    @TempDir
    Path dir;

    @Test
    void moePlacementFlags() {
        ServeCommand plain = new ServeCommand();
        new CommandLine(plain).parseArgs();
        assertEquals(io.peregrine.server.wiring.RuntimeLoader.MoeOptions.GPU, plain.moeOptions());
        ServeCommand auto = new ServeCommand();
        new CommandLine(auto).parseArgs("--moe-placement", "auto", "--moe-gpu-memory", "100GiB",
                "--moe-routing-histogram", "routing.txt");
        var o = auto.moeOptions();
        assertEquals(io.peregrine.engine.model.ExpertPlacement.Mode.AUTO, o.placement());
        assertEquals(100L << 30, o.gpuMemory());
        assertEquals(Path.of("routing.txt"), o.routingHistogram());
        ServeCommand bad = new ServeCommand();
        new CommandLine(bad).parseArgs("--moe-placement", "disk");
        assertTrue(assertThrows(IllegalArgumentException.class, bad::moeOptions).getMessage()
                .contains("gpu, cpu or auto"));
        ServeCommand budgetWithoutAuto = new ServeCommand();
        new CommandLine(budgetWithoutAuto).parseArgs("--moe-placement", "cpu", "--moe-gpu-memory", "1GiB");
        assertTrue(assertThrows(IllegalArgumentException.class, budgetWithoutAuto::moeOptions).getMessage()
                .contains("auto only"));
    }

    @Test
    void flagsMapToTheServerConfig() throws Exception {
        Path keyFile = dir.resolve("keys.txt");
        Files.writeString(keyFile, "# team keys\nsk-file-1\n\nsk-file-2\n");
        ServeCommand cmd = new ServeCommand();
        new CommandLine(cmd).parseArgs("--model", "/models/kimi", "--served-model-name", "kimi-k2.5,kimi",
                "--host", "0.0.0.0", "--port", "9000", "--max-model-len", "131072", "--max-num-seqs", "8",
                "--api-key", "sk-a", "--api-key", "sk-b", "--api-key-file", keyFile.toString(),
                "--sampling-policy", "moonshot", "--reasoning-field", "reasoning_content",
                "--limit-mm-per-prompt", "{\"image\": 2, \"video\": 0}", "--sse-keep-alive", "0", "--reject-unknown-fields",
                "--allowed-origins", "[\"https://app.example\"]", "--allowed-methods", "[\"POST\"]",
                "--allowed-headers", "[\"Authorization\"]", "--allow-credentials");
        ServerConfig c = cmd.serverConfig();
        assertEquals("0.0.0.0", c.host());
        assertEquals(9000, c.port());
        assertEquals(SamplingPolicy.MOONSHOT, c.samplingPolicy());
        assertEquals(ReasoningField.REASONING_CONTENT, c.reasoningField());
        assertEquals(2, c.mediaLimits().images());
        assertEquals(0, c.mediaLimits().videos());
        assertTrue(c.sseKeepAlive().isZero());
        assertTrue(c.rejectUnknownFields());
        assertEquals(new io.peregrine.server.http.CorsPolicy(java.util.List.of("https://app.example"),
                java.util.List.of("POST"), java.util.List.of("authorization"), true), c.cors());
        for (String k : new String[] {"sk-a", "sk-b", "sk-file-1", "sk-file-2"}) {
            assertTrue(c.apiKeys().accepts("Bearer " + k, null), k);
        }
        assertFalse(c.apiKeys().accepts("Bearer # team keys", null));
        assertEquals(java.util.List.of("kimi-k2.5", "kimi"), cmd.servedModelNames);
        assertEquals(131072, cmd.maxModelLen);
        assertEquals(8, cmd.maxNumSeqs);
    }

    @Test
    void defaultsAreSafe() throws Exception {
        ServeCommand cmd = new ServeCommand();
        new CommandLine(cmd).parseArgs();
        ServerConfig c = cmd.serverConfig();
        assertEquals("127.0.0.1", c.host());
        assertEquals(8000, c.port());
        assertEquals(SamplingPolicy.FREE, c.samplingPolicy());
        assertEquals(ReasoningField.BOTH, c.reasoningField());
        assertFalse(c.rejectUnknownFields());
        assertFalse(c.cors().enabled(), "no CORS headers unless origins are configured");
    }

    @Test
    void enforceEagerIsOffByDefault() {
        ServeCommand graphs = new ServeCommand();
        new CommandLine(graphs).parseArgs();
        assertFalse(graphs.enforceEager, "decode graphs on by default, as vLLM's CUDA graphs");
        ServeCommand eager = new ServeCommand();
        new CommandLine(eager).parseArgs("--enforce-eager");
        assertTrue(eager.enforceEager);
    }

    @Test
    void badValuesAreClearErrors() {
        ServeCommand cmd = new ServeCommand();
        new CommandLine(cmd).parseArgs("--sampling-policy", "strict");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, cmd::serverConfig);
        assertTrue(e.getMessage().contains("--sampling-policy"));
        ServeCommand cors = new ServeCommand();
        new CommandLine(cors).parseArgs("--allowed-origins", "https://app.example");
        e = assertThrows(IllegalArgumentException.class, cors::serverConfig);
        assertTrue(e.getMessage().contains("--allowed-origins"), e.getMessage());
    }

    @Test
    void theHeapIsReportedAndOneTooSmallForTheCachesIsRefusedNamingTheKnobs() {
        String ok = ServeCommand.heapReport(3072L << 20, 1L << 30, 512L << 20);
        assertEquals("heap: max 3072 MiB for a 1024 MiB KV cache and a 512 MiB vision encoder cache (the weights are "
                + "memory-mapped, off the heap)", ok);
        String small = ServeCommand.heapReport(1L << 30, 1L << 30, 512L << 20);
        assertTrue(small.startsWith("heap too small: max 1024 MiB"), small);
        assertTrue(small.contains("PEREGRINE_HEAP") && small.contains("--kv-cache-memory"), small);
    }

    @Test
    void theVisionTokenCapFollowsTheBackendUnlessSet() {
        ServeCommand auto = new ServeCommand();
        new CommandLine(auto).parseArgs();
        assertTrue(auto.mediaOptions().visionTokensByBackend());
        ServeCommand set = new ServeCommand();
        new CommandLine(set).parseArgs("--max-vision-tokens-per-request", "30000");
        assertFalse(set.mediaOptions().visionTokensByBackend());
        assertEquals(30000, set.mediaOptions().budget().maxVisionTokens());
        assertEquals(30000, set.mediaOptions().budget().video().maxVisionTokens());
        assertEquals(8192, io.peregrine.engine.media.MediaBudget.DEFAULT.withMaxVisionTokens(8192).video().maxVisionTokens());
        ServeCommand bad = new ServeCommand();
        new CommandLine(bad).parseArgs("--max-vision-tokens-per-request", "lots");
        assertThrows(IllegalArgumentException.class, bad::mediaOptions);
    }

    @Test
    void thePrefillStepCostIsAutoUnlessSet() {
        ServeCommand auto = new ServeCommand();
        new CommandLine(auto).parseArgs();
        assertEquals(io.peregrine.server.wiring.RuntimeLoader.Options.AUTO, auto.prefillCost());
        ServeCommand off = new ServeCommand();
        new CommandLine(off).parseArgs("--max-prefill-step-cost", "0");
        assertEquals(0, off.prefillCost());
        ServeCommand bad = new ServeCommand();
        new CommandLine(bad).parseArgs("--max-prefill-step-cost", "-5");
        assertThrows(IllegalArgumentException.class, bad::prefillCost);
    }

    @Test
    void speculativeConfigIsReadAsVllmSpellsItAndUnknownMethodsFailAtStartUp() {
        assertEquals(null, ServeCommand.speculativeConfig(null));
        var c = ServeCommand.speculativeConfig("{\"method\": \"ngram\", \"num_speculative_tokens\": 4, "
                + "\"prompt_lookup_max\": 3}");
        assertEquals(SpeculativeConfig.ngram(4, 3, 3), c);
        assertEquals(SpeculativeConfig.ngram(2, 5, 5),
                ServeCommand.speculativeConfig("{\"method\": \"ngram\", \"num_speculative_tokens\": 2}"));
        // suffix: vLLM's defaults, k defaulting to the tree depth (capped at 16)
        assertEquals(new SpeculativeConfig(16, new SpeculativeConfig.Suffix(24, 1.0f, 0.1f, 10000)),
                ServeCommand.speculativeConfig("{\"method\": \"suffix\"}"));
        assertEquals(new SpeculativeConfig(5, new SpeculativeConfig.Suffix(12, 0.5f, 0.25f, 0)),
                ServeCommand.speculativeConfig("{\"method\": \"suffix\", \"num_speculative_tokens\": 5, "
                        + "\"suffix_decoding_max_tree_depth\": 12, \"suffix_decoding_max_spec_factor\": 0.5, "
                        + "\"suffix_decoding_min_token_prob\": 0.25, \"suffix_decoding_max_cached_requests\": 0}"));
        assertEquals(8, ServeCommand.speculativeConfig("{\"method\": \"suffix\", "
                + "\"suffix_decoding_max_tree_depth\": 8}").numSpeculativeTokens());
        for (String bad : java.util.List.of("{\"method\": \"eagle3\", \"num_speculative_tokens\": 3}",
                "{\"method\": \"suffix\", \"prompt_lookup_min\": 2}",
                "{\"method\": \"ngram\", \"num_speculative_tokens\": 3, \"suffix_decoding_max_tree_depth\": 8}",
                "{\"method\": \"suffix\", \"suffix_decoding_max_tree_depth\": 0}",
                "{\"method\": \"suffix\", \"suffix_decoding_min_token_prob\": 1.5}",
                "{\"method\": \"suffix\", \"suffix_decoding_max_spec_factor\": -1}",
                "{\"method\": \"suffix\", \"suffix_decoding_max_cached_requests\": -1}",
                "{\"method\": \"suffix\", \"suffix_decoding_max_spec_factor\": \"x\"}",
                "{\"method\": \"ngram\"}", "{\"method\": \"ngram\", \"num_speculative_tokens\": 3, \"model\": \"x\"}",
                "{\"method\": \"ngram\", \"num_speculative_tokens\": 3, \"prompt_lookup_min\": 4, "
                        + "\"prompt_lookup_max\": 2}", "[1]", "not json")) {
            var e = assertThrows(IllegalArgumentException.class,
                    () -> ServeCommand.speculativeConfig(bad), bad);
            assertTrue(e.getMessage().startsWith("--speculative-config"),
                    e.getMessage());
        }
    }

    @Test
    void visionEncoderPlacementAndTpMode() {
        ServeCommand dflt = new ServeCommand();
        new CommandLine(dflt).parseArgs();
        assertEquals(io.peregrine.engine.vision.encoder.EncoderPlacement.AUTO, dflt.mediaOptions().encoderPlacement());
        assertEquals(io.peregrine.engine.vision.encoder.EncoderTpMode.WEIGHTS, dflt.mediaOptions().encoderTpMode());
        assertEquals(io.peregrine.engine.vision.encoder.EncoderPlacement.DEVICE,
                dflt.mediaOptions().encoderPlacement().resolve("cuda:0"));
        assertEquals(io.peregrine.engine.vision.encoder.EncoderPlacement.ONNX,
                dflt.mediaOptions().encoderPlacement().resolve("cpu"));

        ServeCommand onnx = new ServeCommand();
        new CommandLine(onnx).parseArgs("--mm-encoder-backend", "onnx", "--mm-encoder-tp-mode", "data");
        assertEquals(io.peregrine.engine.vision.encoder.EncoderPlacement.ONNX,
                onnx.mediaOptions().encoderPlacement().resolve("cuda:0"));
        assertEquals(io.peregrine.engine.vision.encoder.EncoderTpMode.DATA, onnx.mediaOptions().encoderTpMode());

        ServeCommand bad = new ServeCommand();
        new CommandLine(bad).parseArgs("--mm-encoder-backend", "gpu");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, bad::mediaOptions);
        assertTrue(e.getMessage().contains("auto, onnx or device"), e.getMessage());

        ServeCommand sharded = new ServeCommand();
        new CommandLine(sharded).parseArgs("--mm-encoder-tp-mode", "data", "--tensor-parallel-size", "2");
        e = assertThrows(IllegalArgumentException.class, sharded::mediaOptions);
        assertTrue(e.getMessage().contains("not wired"), e.getMessage());
    }
}
