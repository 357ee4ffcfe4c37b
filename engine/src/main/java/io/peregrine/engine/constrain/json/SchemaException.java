package io.peregrine.engine.constrain.json;

/**
 * A JSON Schema that cannot be turned into a grammar: malformed, unsatisfiable, too large, or (when strict) using
 * a keyword the grammar does not enforce. The message names the problem and its place in the schema as a JSON
 * pointer ({@code #/properties/when/format}).
 */
public final class SchemaException extends Exception {
    private final String path;

    public SchemaException(String path, String problem) {
        super("schema at " + path + ": " + problem);
        this.path = path;
    }

    /** Where in the schema, as a JSON pointer fragment ({@code #} is the root). */
    public String path() {
        return path;
    }
}
