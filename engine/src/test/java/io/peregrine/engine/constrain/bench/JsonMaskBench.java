package io.peregrine.engine.constrain.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.engine.constrain.OutputGrammars;
import io.peregrine.engine.constrain.TokenBytesIndex;
import io.peregrine.engine.constrain.ToolCallConstraint;
import io.peregrine.engine.constrain.ToolCallRule;
import io.peregrine.engine.constrain.json.JsonGrammar;
import io.peregrine.engine.parse.MarkerIds;
import io.peregrine.engine.runtime.TokenConstraint;
import io.peregrine.engine.tokenizer.KimiTokenizer;
import io.peregrine.engine.tokenizer.Tokenizers;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What the JSON constraint costs per decode step over the real 163,840-token vocabulary: a response_format schema
 * and a strict tool, each fed a realistic document token by token (the tokenizer's own split), timing the full
 * {@link TokenConstraint#mask} the engine calls on a logits row. Not part of {@code mvn test}; run with
 * {@code engine/src/test/bench/run-json-mask-bench.sh}.
 */
public final class JsonMaskBench {
    static final String SCHEMA = """
            {"type":"object","properties":{
              "location":{"type":"string","description":"City and region"},
              "unit":{"type":"string","enum":["celsius","fahrenheit"]},
              "days":{"type":"integer"},
              "include_hourly":{"type":"boolean"},
              "tags":{"type":"array","items":{"type":"string"},"maxItems":5},
              "filters":{"type":"object","properties":{"min_temp":{"type":"number"},
                 "conditions":{"type":"array","items":{"enum":["rain","snow","sun"]}}},"additionalProperties":false},
              "summary":{"type":"string"}},
             "required":["location","unit"],"additionalProperties":false}""";
    public static final String DOCUMENT = "{\"location\": \"San Francisco, CA\", \"unit\": \"celsius\", \"days\": 5, "
            + "\"include_hourly\": false, \"tags\": [\"weekend\", \"trip\"], \"filters\": {\"min_temp\": -3.5, "
            + "\"conditions\": [\"rain\", \"sun\"]}, \"summary\": \"Cool and foggy in the morning, 晴时多云, "
            + "clearing by noon; pack a light jacket — temperatures stay between 11 and 17 °C.\"}";

    public static void main(String[] args) throws Exception {
        KimiTokenizer tok = Tokenizers.bundled();
        MarkerIds m = MarkerIds.from(tok);
        TokenBytesIndex vocab = TokenBytesIndex.of(tok::tokenBytes, tok.numRegularTokens());
        long t0 = System.nanoTime();
        vocab.json();
        System.out.printf("vocabulary trie built in %.0f ms%n", (System.nanoTime() - t0) / 1e6);
        JsonGrammar g = JsonGrammar.compile(new ObjectMapper().readTree(SCHEMA), true);
        int[] doc = tok.encodeOrdinary(DOCUMENT);
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 20;
        run("response_format json_schema", doc, rounds, () -> ToolCallConstraint.factory(
                new ToolCallRule.Auto(List.of(), false, Set.of(), 0), new OutputGrammars(g, Map.of()), m, vocab, false)
                .forChoice(0), null, m);
        int[] head = tok.encodeOrdinary("functions.get_weather:0");
        run("strict tool arguments", doc, rounds, () -> ToolCallConstraint.factory(
                new ToolCallRule.Named("get_weather", 0), new OutputGrammars(null, Map.of("get_weather", g)), m, vocab,
                false).forChoice(0), head, m);
        run("json_object (any object)", doc, rounds, () -> ToolCallConstraint.factory(
                new ToolCallRule.Auto(List.of(), false, Set.of(), 0),
                new OutputGrammars(JsonGrammar.anyObject(), Map.of()), m, vocab, false).forChoice(0), null, m);
    }

    interface Maker {
        TokenConstraint make();
    }

    static void run(String what, int[] doc, int rounds, Maker maker, int[] callHead, MarkerIds m) {
        float[] logits = new float[163_840];
        double[] perStep = new double[doc.length * rounds];
        double[] worstAt = new double[doc.length];
        int k = 0;
        for (int round = 0; round < rounds + 3; round++) {
            TokenConstraint c = maker.make();
            if (callHead != null) {
                c.accept(m.sectionBegin());
                c.accept(m.callBegin());
                for (int t : callHead) {
                    c.accept(t);
                }
                c.accept(m.argumentBegin());
            }
            int pos = 0;
            for (int t : doc) {
                Arrays.fill(logits, 0f); // the engine masks a fresh copy of each step's row
                long s = System.nanoTime();
                c.mask(logits);
                long e = System.nanoTime();
                if (logits[t] == Float.NEGATIVE_INFINITY) {
                    throw new IllegalStateException("the document's token " + t + " was masked");
                }
                c.accept(t);
                if (round >= 3) { // the first rounds warm the JIT
                    perStep[k++] = (e - s) / 1e6;
                    worstAt[pos] = Math.max(worstAt[pos], (e - s) / 1e6);
                }
                pos++;
            }
        }
        if (System.getenv("JSON_BENCH_POSITIONS") != null) {
            for (int i = 0; i < doc.length; i++) {
                System.out.printf("  step %d: worst %.3f ms%n", i, worstAt[i]);
            }
        }
        Arrays.sort(perStep);
        double sum = 0;
        for (double v : perStep) {
            sum += v;
        }
        System.out.printf("%-28s %d tokens x %d rounds: mean %.3f ms, median %.3f ms, p90 %.3f ms, max %.3f ms%n",
                what, doc.length, rounds, sum / perStep.length, perStep[perStep.length / 2],
                perStep[(int) (perStep.length * 0.9)], perStep[perStep.length - 1]);
    }
}
