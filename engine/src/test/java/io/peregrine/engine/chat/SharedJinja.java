package io.peregrine.engine.chat;

/**
 * One Jinja runtime for all of the engine's tests: starting GraalJS and evaluating the library costs seconds, a
 * render milliseconds. Its contexts live as long as the test JVM.
 */
final class SharedJinja {
    private static JinjaRuntime runtime;

    private SharedJinja() {}

    static synchronized JinjaRuntime runtime() {
        if (runtime == null) {
            runtime = new JinjaRuntime(2);
        }
        return runtime;
    }

    static JinjaTemplate compile(String source, String origin) {
        return JinjaTemplate.compile(source, origin, runtime());
    }
}
