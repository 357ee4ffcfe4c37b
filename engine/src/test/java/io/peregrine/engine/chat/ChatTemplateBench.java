package io.peregrine.engine.chat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * Render time of a 100-message conversation (system, user/assistant turns, a tool call and its result every tenth
 * turn, two tools declared) with the official K2.5 template: the native renderer vs the same template through the
 * Jinja engine. Run: {@code scripts/bench-templates.sh}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class ChatTemplateBench {
    private JinjaRuntime runtime;
    private ChatTemplate nativeK25;
    private ChatTemplate jinjaK25;
    private List<ChatMessage> messages;
    private List<Tool> tools;

    @Setup
    public void setup() {
        runtime = new JinjaRuntime(1);
        nativeK25 = ChatTemplate.of(TemplateVariant.K25_OFFICIAL);
        jinjaK25 = JinjaTemplate.compile(TemplateVariant.K25_OFFICIAL.source(), "k25", runtime);
        messages = conversation(100);
        tools = List.of(Tool.function("get_weather", "Weather for a city.", Map.of("type", "object",
                        "properties", Map.of("city", Map.of("type", "string")), "required", List.of("city"))),
                Tool.function("search", "Web search.", Map.of("type", "object",
                        "properties", Map.of("q", Map.of("type", "string"), "n", Map.of("type", "integer")))));
    }

    static List<ChatMessage> conversation(int n) {
        List<ChatMessage> out = new ArrayList<>(n);
        out.add(ChatMessage.system("You are a helpful assistant. Answer briefly."));
        for (int i = 1; out.size() < n; i++) {
            out.add(ChatMessage.user("Question " + i + ": what is the weather like in city number " + i
                    + " today, and should I take an umbrella?"));
            if (i % 10 == 0 && out.size() + 3 <= n) {
                out.add(ChatMessage.assistant(null, "I should look it up.", List.of(new ToolCall(
                        "functions.get_weather:" + i, "get_weather", new ToolArguments.Text("{\"city\": \"C" + i + "\"}")))));
                out.add(ChatMessage.tool("functions.get_weather:" + i, "get_weather", "{\"rain\": 0.3, \"temp\": 21}"));
            }
            if (out.size() < n) {
                out.add(ChatMessage.assistant("It is mild in city " + i + "; a 30% chance of rain, so take one."));
            }
        }
        return out.subList(0, n);
    }

    @TearDown
    public void tearDown() {
        runtime.close();
    }

    @Benchmark
    public RenderedPrompt nativeRenderer() {
        return nativeK25.render(messages, tools, RenderOptions.defaults());
    }

    @Benchmark
    public RenderedPrompt jinjaEngine() {
        return jinjaK25.render(messages, tools, RenderOptions.defaults());
    }

    /** JMH (wall time); {@code --cpu-time}: this thread's CPU time per render, robust on a shared machine. */
    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("--cpu-time")) {
            cpuTime();
            return;
        }
        new Runner(new OptionsBuilder().include(ChatTemplateBench.class.getSimpleName()).build()).run();
    }

    private static void cpuTime() {
        ChatTemplateBench b = new ChatTemplateBench();
        b.setup();
        var threads = java.lang.management.ManagementFactory.getThreadMXBean();
        for (String path : List.of("nativeRenderer", "jinjaEngine")) {
            boolean jinja = path.equals("jinjaEngine");
            int warm = jinja ? 50 : 20_000;
            int runs = jinja ? 50 : 20_000;
            for (int i = 0; i < warm; i++) {
                (jinja ? b.jinjaEngine() : b.nativeRenderer()).text();
            }
            long t0 = threads.getCurrentThreadCpuTime();
            for (int i = 0; i < runs; i++) {
                (jinja ? b.jinjaEngine() : b.nativeRenderer()).text();
            }
            double us = (threads.getCurrentThreadCpuTime() - t0) / 1e3 / runs;
            System.out.printf("%-15s %10.1f us CPU per 100-message render (%d runs after %d warm-up)%n", path, us,
                    runs, warm);
        }
        b.tearDown();
    }
}
