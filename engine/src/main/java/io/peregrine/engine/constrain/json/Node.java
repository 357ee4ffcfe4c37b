package io.peregrine.engine.constrain.json;

/**
 * A compiled schema node: the set of JSON values one (sub)schema admits, in the shape the matcher walks. The
 * graph may be cyclic ({@code $ref} recursion). Nodes are filled in while {@link SchemaCompiler} runs and never
 * change afterwards, so a compiled grammar is shared freely between requests and threads.
 */
abstract sealed class Node permits Node.Typed, Node.AnyOf, Node.Literals, Node.Ref {
    /** Some finite JSON value matches (a least fixpoint over the graph, set by the compiler). */
    boolean satisfiable;
    /**
     * The fewest container levels a value of this node needs (0 when a scalar will do), so the matcher never
     * commits to a value that cannot close within its nesting limit. Set by the compiler.
     */
    int nest = UNBOUNDED;

    static final int UNBOUNDED = 1 << 20;

    /** One or more JSON types, each with its own restrictions; a type that is absent is not allowed. */
    static final class Typed extends Node {
        /** {@link #nest} of the object / array alternative alone. */
        int objectNest = UNBOUNDED;
        int arrayNest = UNBOUNDED;
        boolean allowNull;
        boolean allowBool;
        /** 0: numbers not allowed; 1: integers only; 2: any number. */
        int number;
        /** null: strings not allowed. */
        StringSpec string;
        ObjectSpec object;
        ArraySpec array;
    }

    /** One of several nodes (anyOf, and oneOf read as anyOf). */
    static final class AnyOf extends Node {
        Node[] alternatives;
        /** From oneOf: strict mode must make sure no value matches two alternatives. */
        String oneOfPath;
        /** The anyOf / oneOf keyword's JSON pointer, for errors. */
        String path;
    }

    /** Exactly one of a few JSON texts (enum, const), each in its compact canonical form. */
    static final class Literals extends Node {
        byte[][] options;
    }

    /** A {@code $ref}, resolved once the whole document is compiled (so recursion works). */
    static final class Ref extends Node {
        final String pointer;
        Node target;

        Ref(String pointer) {
            this.pointer = pointer;
        }
    }

    /** @param maxLength Integer.MAX_VALUE when unbounded; lengths count code points, as JSON Schema does */
    record StringSpec(int minLength, int maxLength) {}

    /**
     * The keys of one object type. Declared properties are tracked in a 64-bit set, hence at most 64 per object.
     *
     * @param additional null: no other keys (additionalProperties false)
     */
    static final class ObjectSpec {
        String[] names;
        Node[] properties;
        long required;
        Node additional;
        /** The largest {@link Node#nest} of a viable property (set by the compiler). */
        int deepest;
        /** Declared properties whose schema is satisfiable: the keys that may still be written. */
        long viable;
        /** The names as a byte trie; set with {@link #names}, before the grammar is shared. */
        NameTrie trie;

        NameTrie names() {
            return trie;
        }
    }

    /**
     * @param maxItems the effective bound (items after the prefix forbidden or unsatisfiable included)
     * @param items    the schema of every item after {@code prefix}; null when there may be none
     */
    static final class ArraySpec {
        Node[] prefix;
        Node items;
        int minItems;
        int maxItems;

        Node item(int index) {
            return index < prefix.length ? prefix[index] : items;
        }
    }
}
