package io.peregrine.engine.config;

import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * One entry of a quantization config's {@code ignore} list, matched the way compressed-tensors matches it: a
 * {@code re:} entry is a regex anchored at the start of the module name only (Python {@code re.match}), any other
 * entry must equal the module name.
 */
public sealed interface IgnoreRule {
    boolean matches(String module);

    /** The entry as config.json spells it. */
    String text();

    record Exact(String name) implements IgnoreRule {
        @Override
        public boolean matches(String module) {
            return module.equals(name);
        }

        @Override
        public String text() {
            return name;
        }
    }

    record Regex(Pattern pattern) implements IgnoreRule {
        @Override
        public boolean matches(String module) {
            return pattern.matcher(module).lookingAt();
        }

        @Override
        public String text() {
            return "re:" + pattern.pattern();
        }
    }

    /** @throws IllegalArgumentException naming the entry when its regex does not compile */
    static IgnoreRule parse(String entry) {
        if (!entry.startsWith("re:")) {
            return new Exact(entry);
        }
        try {
            return new Regex(Pattern.compile(entry.substring(3)));
        } catch (PatternSyntaxException e) {
            throw new IllegalArgumentException("bad regex '" + entry + "': " + e.getDescription(), e);
        }
    }
}
