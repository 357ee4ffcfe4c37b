package io.peregrine.engine.tokenizer.bench;

import io.peregrine.engine.tokenizer.IncrementalDetokenizer;
import io.peregrine.engine.tokenizer.KimiTokenizer;
import io.peregrine.engine.tokenizer.SpecialTextPolicy;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.CommandLineOptionException;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import java.util.concurrent.TimeUnit;

/**
 * Tokenizer throughput on a mixed-language corpus (English prose, code, Chinese, Japanese, Korean, Cyrillic,
 * Arabic, emoji, numbers). Not a unit test (no *Test name): run it with
 * {@code engine/src/test/bench/run-tokenizer-bench.sh}, which calls {@link #main}. Scores are operations per
 * second over the whole corpus; tokens/s = score × the token count printed at setup.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-XX:+UseParallelGC"})
public class TokenizerBenchmark {
    /** "mixed" is the headline number; the single-language corpora show where the time goes. */
    @Param({"mixed", "english", "chinese", "code"})
    public String language;

    KimiTokenizer tokenizer;
    String corpus;
    int[] ids;

    @Setup(Level.Trial)
    public void setup() {
        tokenizer = KimiTokenizer.bundled();
        corpus = Corpus.text(language);
        ids = tokenizer.encode(corpus, SpecialTextPolicy.AS_TEXT);
        System.out.printf("%ncorpus %s: %d chars, %d UTF-8 bytes, %d tokens%n", language, corpus.length(),
                corpus.getBytes(java.nio.charset.StandardCharsets.UTF_8).length, ids.length);
    }

    @Benchmark
    public int[] encode() {
        return tokenizer.encode(corpus, SpecialTextPolicy.AS_TEXT);
    }

    @Benchmark
    public String decode() {
        return tokenizer.decode(ids);
    }

    @Benchmark
    public void incrementalDetokenize(Blackhole bh) {
        IncrementalDetokenizer d = new IncrementalDetokenizer(tokenizer, false);
        for (int id : ids) {
            bh.consume(d.push(id));
        }
    }

    /** Standard JMH command-line options (e.g. {@code -wi 1 -i 3 -f 1}) are passed through. */
    public static void main(String[] args) throws RunnerException, CommandLineOptionException {
        CommandLineOptions cli = new CommandLineOptions(args);
        new Runner(new OptionsBuilder().parent(cli).include(TokenizerBenchmark.class.getName()).build()).run();
    }

    /** Fixed corpora of about 40,000 chars, repeated from varied samples. */
    static final class Corpus {
        private static final String[] SAMPLES = {
                "The quick brown fox jumps over the lazy dog. It's 2026 and we're serving Kimi K2.5 at 1,234 tok/s!\n",
                "public static int[] encode(String text) { return bpe.encode(text).stream().mapToInt(i -> i).toArray(); }\n",
                "人工智能正在改变世界，大语言模型能够理解和生成自然语言。北京今天天气晴朗，气温二十一度。\n",
                "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。カタカナも混ざる。\n",
                "대한민국의 수도는 서울입니다. 한국어 문장을 토큰화합니다.\n",
                "Съешь же ещё этих мягких французских булок, да выпей чаю.\n",
                "مرحبا بالعالم، هذا نص عربي للاختبار.\n",
                "Emoji: 🤗👩‍👩‍👧 🏳️‍🌈 1️⃣ and math 3.14159 × 2 = 6.28318; numbers 1234567890.\n",
                "    def forward(self, x):\n        return self.proj(F.silu(self.gate(x)) * self.up(x))\n",
        };

        static String text(String language) {
            String[] samples = switch (language) {
                case "mixed" -> SAMPLES;
                case "english" -> new String[] {SAMPLES[0]};
                case "chinese" -> new String[] {SAMPLES[2]};
                case "code" -> new String[] {SAMPLES[1], SAMPLES[8]};
                default -> throw new IllegalArgumentException("unknown corpus " + language);
            };
            StringBuilder sb = new StringBuilder();
            for (int i = 0; sb.length() < 40_000; i++) {
                sb.append(samples[i % samples.length]);
            }
            return sb.toString();
        }
    }
}
