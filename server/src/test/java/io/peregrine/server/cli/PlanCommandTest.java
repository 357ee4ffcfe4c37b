package io.peregrine.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class PlanCommandTest {
    @TempDir
    Path dir;

    record Run(int exit, String out, String err) {}

    private static Run plan(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = new CommandLine(new PlanCommand());
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        return new Run(cl.execute(args), out.toString(), err.toString());
    }

    private Path k25Config() throws IOException {
        Path p = dir.resolve("config.json");
        try (InputStream in = PlanCommandTest.class.getResourceAsStream("/io/peregrine/engine/kimi-k25/config.json")) {
            Files.copy(in, p);
        }
        return p;
    }

    @Test
    void vllmsK2ThinkingAnchorFromTheCommandLine() throws IOException {
        Run r = plan("--model", k25Config().toString(), "--gpus", "8", "--gpu-memory", "141GiB",
                "--tensor-parallel-size", "8", "--max-model-len", "262144", "--kv-cache-dtype", "auto",
                "--kv-cache-memory", "46.80GiB");
        assertEquals(0, r.exit(), r.out() + r.err());
        assertTrue(r.out().contains("11,173 blocks = 715,072 tokens"), r.out());
        assertTrue(r.out().contains("2 concurrent sequences (2.73x)"), r.out());
        assertTrue(r.out().contains("Weights per rank: 71.8 GiB"), r.out());
    }

    /** K2.5 on one H200 with the routed experts in host memory: the placement block, the GPU sized without them. */
    @Test
    void moePlacementOnOneGpuAndTheHost() throws IOException {
        Path cfg = k25Config();
        Run all = plan("--model", cfg.toString(), "--gpu-memory", "141GiB", "--moe-placement", "gpu");
        assertEquals(1, all.exit(), "all 594 GB on one H200: refused\n" + all.out());
        Run cpu = plan("--model", cfg.toString(), "--gpu-memory", "141GiB", "--moe-placement", "cpu",
                "--max-model-len", "131072");
        assertEquals(0, cpu.exit(), cpu.out() + cpu.err());
        assertTrue(cpu.out().contains("MoE placement cpu: 21.83 GiB of weights on the primary, 531.56 GiB of routed "
                + "experts on the host"), cpu.out());
        assertTrue(cpu.out().contains("  layer 0: dense\n  layers 1-60: 384 experts on the host\n"), cpu.out());
        assertTrue(cpu.out().contains("11.89 GB from host DRAM, 21.10 GB from the primary's memory"), cpu.out());
        assertTrue(cpu.out().contains("Fits."), cpu.out());
        Run auto = plan("--model", cfg.toString(), "--gpu-memory", "141GiB", "--moe-placement", "auto",
                "--moe-gpu-memory", "100GiB");
        assertEquals(0, auto.exit(), auto.out() + auto.err());
        assertTrue(auto.out().contains("  layers 1-8: 384 experts on the primary\n  layer 9: 316 experts on the "
                + "primary, 68 on the host\n  layers 10-60: 384 experts on the host\n"), auto.out());
        Run noBudget = plan("--model", cfg.toString(), "--gpu-memory", "141GiB", "--moe-placement", "auto");
        assertEquals(2, noBudget.exit());
        assertTrue(noBudget.err().contains("--moe-gpu-memory"), noBudget.err());
        Run twoGpus = plan("--model", cfg.toString(), "--gpus", "2", "--gpu-memory", "141GiB", "--moe-placement", "cpu");
        assertEquals(2, twoGpus.exit());
        assertTrue(twoGpus.err().contains("one GPU and the host"), twoGpus.err());
    }

    @Test
    void refusalsExitWithOneAndSayWhy() throws IOException {
        Path cfg = k25Config();
        Run h100 = plan("--model", dir.toString(), "--gpus", "8", "--gpu-memory", "80GiB");
        assertEquals(1, h100.exit(), h100.out());
        assertTrue(h100.out().contains("Refused: does not fit") && h100.out().contains("short by"), h100.out());
        Run heads = plan("--model", cfg.toString(), "--gpus", "6", "--gpu-memory", "141GiB", "--enable-expert-parallel");
        assertEquals(1, heads.exit(), heads.out());
        assertTrue(heads.out().contains("num_attention_heads 64 is not divisible by 6"), heads.out());
        assertFalse(heads.out().contains("n_routed_experts"), heads.out());
    }

    @Test
    void theGoldenTinyCheckpointByExpertParallelismWithAnFp8Cache() {
        Path tiny = Path.of(System.getProperty("peregrine.testdata", "../testdata"), "golden", "tiny-k25");
        Run ep = plan("--model", tiny.toString(), "--gpus", "2", "--gpu-memory", "64MiB", "--enable-expert-parallel",
                "--kv-cache-dtype", "fp8", "--kv-cache-memory", "1MiB", "--reserve-memory", "1MiB", "--block-size", "16",
                "--max-model-len", "4096");
        assertEquals(0, ep.exit(), ep.out() + ep.err());
        // 3 layers x (32 + 8) latent values x 1 byte; 1 MiB / (16 x 120 B) = 546 blocks.
        assertTrue(ep.out().contains("120 B per token") && ep.out().contains("546 blocks = 8,736 tokens"), ep.out());
        assertTrue(ep.out().contains("by expert parallelism (4 of 8 per rank)"), ep.out());
        Run tp = plan("--model", tiny.toString(), "--gpus", "2", "--gpu-memory", "64MiB");
        assertEquals(1, tp.exit(), tp.out());
        assertTrue(tp.out().contains("quantization group of 32"), tp.out());
    }

    @Test
    void badInputExitsWithTwo() throws IOException {
        Path cfg = k25Config();
        Run dtype = plan("--model", cfg.toString(), "--gpu-memory", "141GiB", "--kv-cache-dtype", "int3");
        assertEquals(2, dtype.exit());
        assertTrue(dtype.err().contains("--kv-cache-dtype"), dtype.err());
        Run missing = plan("--model", dir.resolve("nope").toString(), "--gpu-memory", "141GiB");
        assertEquals(2, missing.exit());
        Run size = plan("--model", cfg.toString(), "--gpu-memory", "lots");
        assertEquals(2, size.exit());
        assertTrue(size.err().contains("bad size 'lots'"), size.err());
    }
}
