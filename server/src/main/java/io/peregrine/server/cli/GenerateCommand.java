package io.peregrine.server.cli;

import io.peregrine.engine.backend.cpu.CpuBackend;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.model.KimiTextModel;
import io.peregrine.engine.runtime.SoloGenerator;
import io.peregrine.engine.tokenizer.KimiTokenizer;
import io.peregrine.server.wiring.KimiTextCodec;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate tokens from a prompt on the CPU reference backend (one sequence, fp32 activations).")
public final class GenerateCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, description = "Checkpoint directory (config.json + safetensors).")
    Path model;

    static final class Prompt {
        @Option(names = "--prompt-ids", description = "Prompt token ids, separated by commas or spaces.")
        String ids;

        @Option(names = "--prompt", description = "Prompt text, encoded with the checkpoint's tokenizer after a BOS (no chat template).")
        String text;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Prompt prompt;

    @Option(names = "--max-tokens", defaultValue = "16", description = "Tokens to generate (default ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--temperature", defaultValue = "0", description = "0 = greedy (default); > 0 samples.")
    double temperature;

    @Option(names = "--seed", defaultValue = "0", description = "Sampling seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--threads", description = "Compute threads (default: all cores).")
    Integer threads;

    @Option(names = "--ignore-eos", description = "Do not stop at the model's end-of-sequence ids.")
    boolean ignoreEos;

    @Option(names = "--dump-logits", description = "Write every step's logits as a float32 .npy [steps, vocab].")
    Path dumpLogits;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        // The golden tiny checkpoint has no tokenizer files: --prompt-ids still works there, without text.
        KimiTokenizer tokenizer = Files.isRegularFile(model.resolve("tiktoken.model"))
                ? KimiTokenizer.fromDirectory(model) : null;
        int[] ids;
        if (prompt.text != null) {
            if (tokenizer == null) {
                throw new ParameterException(spec.commandLine(), "--prompt TEXT needs the checkpoint's tokenizer, but "
                        + model.resolve("tiktoken.model") + " is missing; pass --prompt-ids");
            }
            if (prompt.text.isEmpty()) {
                throw new ParameterException(spec.commandLine(), "--prompt is empty");
            }
            ids = null; // encoded below, once the config says which BOS to prepend
        } else {
            ids = parseIds(prompt.ids);
        }
        int nThreads = threads != null ? threads : Runtime.getRuntime().availableProcessors();
        long loadStart = System.nanoTime();
        try (Checkpoint ck = Checkpoint.open(model); CpuBackend backend = new CpuBackend(nThreads)) {
            KimiTextModel lm = KimiTextModel.load(ck, backend);
            int vocab = lm.config().vocabSize();
            if (ids == null) {
                // as /v1/completions encodes a text prompt: BOS, then the text with special-token names as text
                ids = new KimiTextCodec(tokenizer, ck.config().bosTokenId()).encode(prompt.text, true);
                out.println("prompt ids: " + Arrays.toString(ids));
            }
            for (int id : ids) {
                if (id < 0 || id >= vocab) {
                    throw new ParameterException(spec.commandLine(), "prompt id " + id + " outside the vocabulary 0.." + (vocab - 1));
                }
            }
            System.err.printf("loaded %s in %.1f s (%d layers, %d threads)%n", model,
                    (System.nanoTime() - loadStart) / 1e9, lm.config().numHiddenLayers(), nThreads);
            Set<Integer> stop = ignoreEos ? Set.of() : new HashSet<>(ck.config().eosTokenIds());
            out.print("tokens:");
            SoloGenerator.Result r = new SoloGenerator(lm).generate(ids, maxTokens, temperature, seed, stop,
                    dumpLogits != null, (step, token) -> {
                        out.print(" " + token);
                        out.flush();
                    });
            out.println();
            if (tokenizer != null) {
                out.println("text: " + tokenizer.decode(r.tokens()));
            }
            out.printf("prompt %d tokens, %.2f tokens/s prefill; generated %d tokens, %.2f tokens/s decode%n",
                    ids.length, r.prefillTokensPerSecond(ids.length), r.tokens().length, r.decodeTokensPerSecond());
            if (dumpLogits != null) {
                writeNpy(dumpLogits, r.stepLogits(), vocab);
                out.println("logits: " + dumpLogits + " float32 [" + r.tokens().length + ", " + vocab + "]");
            }
        }
        return 0;
    }

    private int[] parseIds(String s) {
        String[] parts = s.trim().split("[,\\s]+");
        try {
            int[] ids = Arrays.stream(parts).filter(p -> !p.isEmpty()).mapToInt(Integer::parseInt).toArray();
            if (ids.length == 0) {
                throw new ParameterException(spec.commandLine(), "--prompt-ids is empty");
            }
            return ids;
        } catch (NumberFormatException e) {
            throw new ParameterException(spec.commandLine(), "--prompt-ids: not an integer list: '" + s + "'");
        }
    }

    /** NumPy v1.0 float32 C-order, readable with {@code numpy.load}. */
    static void writeNpy(Path file, float[][] rows, int cols) throws IOException {
        String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + rows.length + ", " + cols + "), }";
        int pad = 64 - (10 + dict.length() + 1) % 64;
        String header = dict + " ".repeat(pad % 64) + "\n";
        ByteBuffer b = ByteBuffer.allocate(10 + header.length() + rows.length * cols * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.put((byte) 0x93).put("NUMPY".getBytes(StandardCharsets.US_ASCII)).put((byte) 1).put((byte) 0);
        b.putShort((short) header.length()).put(header.getBytes(StandardCharsets.US_ASCII));
        for (float[] row : rows) {
            for (float v : row) {
                b.putFloat(v);
            }
        }
        try (OutputStream o = Files.newOutputStream(file)) {
            o.write(b.array());
        }
    }
}
