package io.peregrine.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.runtime.ServingEngine;
import java.io.IOException;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassModel;
import java.lang.classfile.constantpool.PoolEntry;
import java.lang.classfile.constantpool.Utf8Entry;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Package cycles in the engine's compiled main classes: every reference in each class file's constant pool (class
 * entries, field/method descriptors, generic signatures) is an arrow from its package to the referenced package.
 * Read with the JDK's own class-file API rather than ArchUnit, whose bundled ASM lags new class-file versions.
 */
class PackageCyclesTest {
    private static final Pattern ENGINE_TYPE = Pattern.compile("io/peregrine/engine/[\\w/$]+");

    /**
     * Cycles still present, each a strongly connected set of packages. They belong to later work: the backend's
     * arrows to checkpoint and sample go with the Backend SPI redesign; media and vision are parent packages that
     * dispatch to their own sub-packages. Anything else is a new cycle and fails.
     */
    private static final Set<Set<String>> KNOWN = Set.of(
            Set.of("backend", "checkpoint", "kv", "sample"),
            Set.of("media", "media.pdf", "media.video"),
            Set.of("vision", "vision.decode", "vision.encoder", "vision.preprocess"));

    @Test
    void noPackageCyclesBeyondTheKnownOnes() throws IOException, URISyntaxException {
        Set<Set<String>> cycles = new HashSet<>(cycles(engineGraph()));
        assertEquals(KNOWN, cycles, "package cycles in the engine's main classes");
    }

    @Test
    void runtimeSitsAboveSampleModelAndSched() throws IOException, URISyntaxException {
        Map<String, Set<String>> graph = engineGraph();
        assertTrue(graph.get("runtime").containsAll(List.of("sample", "model", "sched")), graph.get("runtime").toString());
        for (String below : List.of("sample", "model", "sched")) {
            assertTrue(!reaches(graph, below, "runtime"), below + " reaches runtime: " + graph);
        }
    }

    @Test
    void findsACycleInASmallGraph() {
        Map<String, Set<String>> g = new TreeMap<>();
        g.put("a", new TreeSet<>(List.of("b")));
        g.put("b", new TreeSet<>(List.of("c")));
        g.put("c", new TreeSet<>(List.of("a", "d")));
        g.put("d", new TreeSet<>());
        assertEquals(List.of(Set.of("a", "b", "c")), cycles(g));
        g.get("c").remove("a");
        assertEquals(List.of(), cycles(g));
    }

    /** Package (relative to io.peregrine.engine, dotted) to the packages it refers to. */
    private static Map<String, Set<String>> engineGraph() throws IOException, URISyntaxException {
        Path classes = Path.of(ServingEngine.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        Map<String, Set<String>> graph = new TreeMap<>();
        try (Stream<Path> files = Files.walk(classes)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".class")).toList()) {
                ClassModel m = ClassFile.of().parse(Files.readAllBytes(f));
                String from = packageOf(m.thisClass().asInternalName());
                if (from == null) continue;
                Set<String> to = graph.computeIfAbsent(from, k -> new TreeSet<>());
                for (PoolEntry e : m.constantPool()) {
                    if (!(e instanceof Utf8Entry u)) continue;
                    Matcher t = ENGINE_TYPE.matcher(u.stringValue());
                    while (t.find()) {
                        String p = packageOf(t.group());
                        if (p != null && !p.equals(from)) to.add(p);
                    }
                }
            }
        }
        assertTrue(graph.containsKey("runtime"), "no engine classes under " + classes);
        return graph;
    }

    private static String packageOf(String internalName) {
        String prefix = "io/peregrine/engine/";
        int slash = internalName.lastIndexOf('/');
        if (!internalName.startsWith(prefix) || slash < prefix.length()) return null;
        return internalName.substring(prefix.length(), slash).replace('/', '.');
    }

    private static boolean reaches(Map<String, Set<String>> graph, String from, String target) {
        Deque<String> todo = new ArrayDeque<>(List.of(from));
        Set<String> seen = new TreeSet<>();
        while (!todo.isEmpty()) {
            String p = todo.pop();
            if (p.equals(target)) return true;
            if (seen.add(p)) todo.addAll(graph.getOrDefault(p, Set.of()));
        }
        return false;
    }

    /** Strongly connected sets of two or more packages (Tarjan). */
    static List<Set<String>> cycles(Map<String, Set<String>> graph) {
        Map<String, Integer> index = new HashMap<>();
        Map<String, Integer> low = new HashMap<>();
        Deque<String> stack = new ArrayDeque<>();
        List<Set<String>> out = new ArrayList<>();
        for (String v : graph.keySet()) {
            if (!index.containsKey(v)) connect(v, graph, index, low, stack, out);
        }
        return out;
    }

    private static void connect(String v, Map<String, Set<String>> graph, Map<String, Integer> index,
            Map<String, Integer> low, Deque<String> stack, List<Set<String>> out) {
        index.put(v, index.size());
        low.put(v, index.get(v));
        stack.push(v);
        for (String w : graph.getOrDefault(v, Set.of())) {
            if (!index.containsKey(w)) {
                connect(w, graph, index, low, stack, out);
                low.put(v, Math.min(low.get(v), low.get(w)));
            } else if (stack.contains(w)) {
                low.put(v, Math.min(low.get(v), index.get(w)));
            }
        }
        if (low.get(v).equals(index.get(v))) {
            Set<String> component = new TreeSet<>();
            String w;
            do {
                w = stack.pop();
                component.add(w);
            } while (!w.equals(v));
            if (component.size() > 1) out.add(Set.copyOf(component));
        }
    }
}
