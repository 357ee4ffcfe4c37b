package io.peregrine.engine.model;

import io.peregrine.engine.backend.Backend;
import io.peregrine.engine.backend.StepCaptureException;
import io.peregrine.engine.backend.StepGraph;
import io.peregrine.engine.backend.StepGraphs;
import io.peregrine.engine.backend.cpu.CpuBackend;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * A CPU backend with the graph capability, captured the way a CUDA stream is: while a step is being captured, every
 * operation is recorded (operands and all) instead of run, and a copy to or from host arrays, an allocation or a
 * sample is refused with {@link StepCaptureException}; launching the graph runs the recorded operations again, in
 * order, over the buffers they named, which the caller has refreshed. So the host-side logic of graph decode (padding,
 * fixed buffers, one upload, recapture) is held to the eager results on the CPU. Every call outside a capture is
 * counted by name ({@link #calls}).
 */
final class CapturingBackend implements InvocationHandler, StepGraphs, AutoCloseable {
    /** Calls that move data across the host boundary or allocate: a graph cannot hold them. */
    private static final Set<String> HOST = Set.of("copyIn", "copyOut", "allocate", "allocateIndices", "vector",
            "upload", "sample", "tokenCounts", "moeScratch", "stackExperts");

    private record Call(Method method, Object[] args) {}

    final CpuBackend cpu;
    final Backend backend;
    /** Operations refused during a capture besides the host ones (a backend whose such step syncs with the host). */
    private final Set<String> syncing;
    final List<String> calls = new ArrayList<>();
    private List<Call> recording;
    int graphLaunches;

    CapturingBackend(int threads) {
        this(threads, Set.of());
    }

    CapturingBackend(int threads, Set<String> syncing) {
        this.syncing = syncing;
        cpu = new CpuBackend(threads);
        backend = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class},
                this);
    }

    @Override
    public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
        String name = method.getName();
        if (name.equals("stepGraphs")) {
            return Optional.of(this);
        }
        if (name.equals("name") || name.equals("batchInvariant") || name.equals("close")) {
            return call(method, args);
        }
        if (recording != null) {
            if (HOST.contains(name) || syncing.contains(name)) {
                throw new StepCaptureException(name + " while a step is being captured");
            }
            Object[] held = args.clone();
            for (int i = 0; i < held.length; i++) {
                if (held[i] instanceof List<?> list) {
                    held[i] = List.copyOf(list);  // a graph holds what was issued; the model reuses its product list
                }
            }
            recording.add(new Call(method, held));
            return null;  // every recorded operation returns nothing
        }
        calls.add(name);
        return call(method, args);
    }

    private Object call(Method method, Object[] args) throws Throwable {
        try {
            return method.invoke(cpu, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    @Override
    public StepGraph capture(Runnable step) {
        List<Call> ops = new ArrayList<>();
        recording = ops;
        try {
            step.run();
        } finally {
            recording = null;
        }
        return new StepGraph() {
            @Override
            public void launch() {
                calls.add("graphLaunch");
                graphLaunches++;
                for (Call c : ops) {
                    try {
                        call(c.method(), c.args());
                    } catch (RuntimeException | Error e) {
                        throw e;
                    } catch (Throwable t) {
                        throw new AssertionError(t);
                    }
                }
            }

            @Override
            public void close() {
                ops.clear();
            }
        };
    }

    long count(String name) {
        return calls.stream().filter(name::equals).count();
    }

    @Override
    public void close() {
        cpu.close();
    }
}
