package io.peregrine.engine.chat;

import org.graalvm.polyglot.Context;
import org.graalvm.polyglot.Engine;
import org.graalvm.polyglot.PolyglotException;
import org.graalvm.polyglot.Source;
import org.graalvm.polyglot.Value;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Hugging Face's {@code @huggingface/jinja} (the Jinja engine of transformers.js, vendored under
 * {@code resources/io/peregrine/engine/jinja}) running in-process on GraalJS. A polyglot context serves one thread
 * at a time, so renders borrow one from a pool that grows on demand up to {@code maxContexts}; the contexts share
 * one engine, so the library's parsed code is shared. Each context keeps every template it has parsed.
 */
final class JinjaRuntime implements AutoCloseable {
    static final String LIBRARY = "/io/peregrine/engine/jinja/huggingface-jinja-0.5.13.cjs";
    /**
     * Wraps the CommonJS bundle into {parse, render} with a per-context template cache, and gives the engine Python
     * floats: JavaScript has one number type, so {@code 1.0} would print (and {@code tojson}) as {@code 1}. The host
     * sends every float as a marked string ({@link JinjaTemplate#FLOAT_MARK} + Python's repr); once a variable is
     * converted, those become the library's FloatValue holding a Number that prints as that repr, and
     * {@code JSON.stringify} (which the library's {@code tojson} calls for numbers) writes it back verbatim.
     */
    private static final String GLUE = """
            (function (J) {
              const MARK = '\\uF8FF';
              class PyFloat extends Number {
                constructor(repr) { super(Number(repr)); this.repr = repr; }
                toString() { return this.repr; }
              }
              const stringify = JSON.stringify;
              JSON.stringify = function (v, r, s) { return v instanceof PyFloat ? v.repr : stringify.call(JSON, v, r, s); };
              const probe = new J.Environment();
              new J.Interpreter(probe).run(J.parse(J.tokenize("{% set f = 1.5 %}{% set s = 'x' %}")));
              const FloatValue = probe.lookupVariable('f').constructor;
              const StringValue = probe.lookupVariable('s').constructor;
              function floats(v) {
                if (v instanceof StringValue && v.value.charAt(0) === MARK) {
                  const f = new FloatValue(0);
                  f.value = new PyFloat(v.value.substring(1));
                  f.toString = function () { return this.value.repr; };
                  return f;
                }
                if (Array.isArray(v.value)) {
                  for (let i = 0; i < v.value.length; i++) v.value[i] = floats(v.value[i]);
                } else if (v.value instanceof Map) {
                  for (const [k, x] of v.value) v.value.set(k, floats(x));
                }
                return v;
              }
              const set = J.Environment.prototype.set;
              J.Environment.prototype.set = function (name, value) {
                const out = set.call(this, name, value);
                if (typeof value === 'object' || typeof value === 'string') {
                  this.variables.set(name, floats(this.variables.get(name)));
                }
                return out;
              };
              const cache = new Map();
              function template(src) {
                let t = cache.get(src);
                if (t === undefined) { t = new J.Template(src); cache.set(src, t); }
                return t;
              }
              return {
                parse: function (src) { template(src); },
                render: function (src, ctx) { return template(src).render(JSON.parse(ctx)); }
              };
            })(module.exports)
            """;

    private final Engine engine;
    private final Source library;
    private final LinkedBlockingQueue<Pooled> idle = new LinkedBlockingQueue<>();
    private final AtomicInteger created = new AtomicInteger();
    private final int maxContexts;

    private record Pooled(Context context, Value api) {}

    JinjaRuntime(int maxContexts) {
        this.maxContexts = Math.max(1, maxContexts);
        // Without a JVMCI compiler Truffle interprets; that is expected here, not worth a warning per start.
        this.engine = Engine.newBuilder("js").option("engine.WarnInterpreterOnly", "false").build();
        try (InputStream in = JinjaRuntime.class.getResourceAsStream(LIBRARY)) {
            if (in == null) {
                throw new IllegalStateException("bundled Jinja engine missing: " + LIBRARY);
            }
            library = Source.newBuilder("js", new String(in.readAllBytes(), StandardCharsets.UTF_8),
                    "huggingface-jinja.cjs").build();
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + LIBRARY, e);
        }
    }

    /** A runtime with as many contexts as half the cores: renders are short, CPU-bound and rare next to decode. */
    static JinjaRuntime standard() {
        return new JinjaRuntime(Math.max(1, Runtime.getRuntime().availableProcessors() / 2));
    }

    /** Parses {@code source}; a syntax error is an {@link IllegalArgumentException} naming {@code origin}. */
    void parse(String source, String origin) {
        call(origin + " is not a template the Jinja engine can parse", p -> p.api().invokeMember("parse", source));
    }

    /** Renders with the context given as JSON; a template error (raise_exception too) keeps its message. */
    String render(String source, String contextJson) {
        return call("chat template error", p -> p.api().invokeMember("render", source, contextJson)).asString();
    }

    private Value call(String what, java.util.function.Function<Pooled, Value> f) {
        Pooled p = borrow();
        try {
            return f.apply(p);
        } catch (PolyglotException e) {
            if (e.isGuestException() && !e.isInternalError()) {
                throw new IllegalArgumentException(what + ": " + guestMessage(e), e);
            }
            throw e;
        } finally {
            idle.add(p);
        }
    }

    /** The JavaScript error's message without its {@code Error: } class prefix. */
    static String guestMessage(PolyglotException e) {
        String m = e.getMessage() == null ? "" : e.getMessage();
        return m.startsWith("Error: ") ? m.substring("Error: ".length()) : m;
    }

    private Pooled borrow() {
        Pooled p = idle.poll();
        if (p != null) {
            return p;
        }
        if (created.getAndIncrement() < maxContexts) {
            return create();
        }
        created.decrementAndGet();
        try {
            return idle.take();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for a template renderer", e);
        }
    }

    private Pooled create() {
        Context c = Context.newBuilder("js").engine(engine).allowAllAccess(false).build();
        c.eval("js", "var module = { exports: {} }; var exports = module.exports;");
        c.eval(library);
        return new Pooled(c, c.eval("js", GLUE));
    }

    @Override
    public void close() {
        Pooled p;
        while ((p = idle.poll()) != null) {
            p.context().close();
        }
        engine.close();
    }
}
