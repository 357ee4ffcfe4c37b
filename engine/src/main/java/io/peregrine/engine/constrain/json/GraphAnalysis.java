package io.peregrine.engine.constrain.json;

import java.util.ArrayList;
import java.util.List;

/**
 * Passes over a compiled node graph (cycles included) once every {@code $ref} is resolved: which nodes some finite
 * value satisfies (branches no value can take are dropped, so the matcher never walks into a dead end), how deep
 * each node must nest at least, and whether a strict oneOf is faithful when matched as anyOf.
 */
final class GraphAnalysis {
    private GraphAnalysis() {}

    /**
     * The grammar reads oneOf as anyOf, which is only faithful when no value can match two alternatives. Strict
     * mode accepts a oneOf whose alternatives are provably disjoint: different JSON types, different enum/const
     * values, or objects that require one property with different const/enum values (a tagged union, as
     * pydantic writes them); any other oneOf is refused.
     */
    static void checkOneOf(List<Node> nodes) throws SchemaException {
        for (Node n : nodes) {
            if (n instanceof Node.AnyOf a && a.oneOfPath != null) {
                for (int i = 0; i < a.alternatives.length; i++) {
                    for (int j = i + 1; j < a.alternatives.length; j++) {
                        if (!disjoint(a.alternatives[i], a.alternatives[j])) {
                            throw new SchemaException(a.oneOfPath, "two oneOf alternatives (" + i + " and " + j
                                    + ", counting nested anyOf and $ref expanded) may both match a value, which the grammar cannot rule out; use anyOf, make "
                                    + "them differ in type or in a required const/enum property, or set strict to "
                                    + "false");
                        }
                    }
                }
            }
        }
    }

    private static Node deref(Node n) {
        for (int hops = 0; n instanceof Node.Ref r && hops < 64; hops++) {
            n = r.target;
        }
        return n;
    }

    /** JSON types as bits: null, boolean, number, string, object, array. */
    private static int typeBits(Node n) {
        n = deref(n);
        return switch (n) {
            case Node.Typed t -> (t.allowNull ? 1 : 0) | (t.allowBool ? 2 : 0) | (t.number > 0 ? 4 : 0)
                    | (t.string != null ? 8 : 0) | (t.object != null ? 16 : 0) | (t.array != null ? 32 : 0);
            case Node.Literals l -> {
                int bits = 0;
                for (byte[] o : l.options) {
                    bits |= switch (o[0]) {
                        case 'n' -> 1;
                        case 't', 'f' -> 2;
                        case '"' -> 8;
                        case '{' -> 16;
                        case '[' -> 32;
                        default -> 4;
                    };
                }
                yield bits;
            }
            case Node.AnyOf a -> {
                int bits = 0;
                for (Node alt : a.alternatives) {
                    bits |= typeBits(alt);
                }
                yield bits;
            }
            default -> 63;
        };
    }

    private static boolean disjoint(Node a, Node b) {
        if ((typeBits(a) & typeBits(b)) == 0) {
            return true;
        }
        a = deref(a);
        b = deref(b);
        if (a instanceof Node.Literals la && b instanceof Node.Literals lb) {
            for (byte[] x : la.options) {
                for (byte[] y : lb.options) {
                    if (java.util.Arrays.equals(x, y)) {
                        return false;
                    }
                }
            }
            return true;
        }
        if (a instanceof Node.Typed ta && b instanceof Node.Typed tb && typeBits(ta) == 16 && typeBits(tb) == 16) {
            Node.ObjectSpec oa = ta.object;
            Node.ObjectSpec ob = tb.object;
            for (int p = 0; p < oa.names.length; p++) {
                if ((oa.required >>> p & 1) == 0) {
                    continue;
                }
                int q = List.of(ob.names).indexOf(oa.names[p]);
                if (q >= 0 && (ob.required >>> q & 1) != 0 && deref(oa.properties[p]) instanceof Node.Literals
                        && deref(ob.properties[q]) instanceof Node.Literals && disjoint(oa.properties[p], ob.properties[q])) {
                    return true;
                }
            }
        }
        return false;
    }

    /** Computes {@link Node#nest} for every node (a fixpoint from "unbounded" down). */
    static void nesting(List<Node> nodes) {
        boolean changed = true;
        while (changed) {
            changed = false;
            for (Node n : nodes) {
                int before = n.nest;
                n.nest = Math.min(n.nest, nest(n));
                changed |= n.nest != before;
            }
        }
        for (Node n : nodes) {
            if (n instanceof Node.Typed t && t.object != null) {
                int deepest = 0;
                for (int p = 0; p < t.object.properties.length; p++) {
                    if ((t.object.viable >>> p & 1) != 0) {
                        deepest = Math.max(deepest, t.object.properties[p].nest);
                    }
                }
                t.object.deepest = deepest;
            }
        }
    }

    private static int nest(Node n) {
        switch (n) {
            case Node.Typed t -> {
                if (t.object != null) {
                    int deepest = 0;
                    for (int p = 0; p < t.object.names.length; p++) {
                        if ((t.object.required >>> p & 1) != 0) {
                            deepest = Math.max(deepest, t.object.properties[p].nest);
                        }
                    }
                    t.objectNest = Math.min(t.objectNest, Math.min(Node.UNBOUNDED, 1 + deepest));
                }
                if (t.array != null) {
                    int deepest = 0;
                    for (int i = 0; i < t.array.minItems && i <= t.array.prefix.length; i++) {
                        deepest = Math.max(deepest, t.array.item(i).nest);
                    }
                    t.arrayNest = Math.min(t.arrayNest, Math.min(Node.UNBOUNDED, 1 + deepest));
                }
                boolean scalar = t.allowNull || t.allowBool || t.number > 0 || t.string != null;
                return scalar ? 0 : Math.min(t.objectNest, t.arrayNest);
            }
            case Node.AnyOf a -> {
                int least = Node.UNBOUNDED;
                for (Node alt : a.alternatives) {
                    least = Math.min(least, alt.nest);
                }
                return least;
            }
            case Node.Literals l -> {
                return l.options.length > 0 ? 0 : Node.UNBOUNDED;
            }
            case Node.Ref r -> {
                return r.target == null ? Node.UNBOUNDED : r.target.nest;
            }
        }
    }

    /** Marks the satisfiable nodes (least fixpoint) and drops every branch that no finite value can take. */
    static void resolve(List<Node> nodes) {
        boolean changed = true;
        while (changed) {
            changed = false;
            for (Node n : nodes) {
                if (!n.satisfiable && satisfiable(n)) {
                    n.satisfiable = true;
                    changed = true;
                }
            }
        }
        for (Node n : nodes) {
            switch (n) {
                case Node.Typed t -> prune(t);
                case Node.AnyOf a -> a.alternatives = flat(a);
                default -> { }
            }
        }
    }

    /**
     * The satisfiable typed and literal nodes an anyOf stands for, through nested anyOfs and $refs. Matching then
     * never recurses through a $ref or anyOf more than once, so a left-recursive schema
     * ({@code "a": {"anyOf": [{"$ref": "#/$defs/a"}, ...]}}) cannot loop: its cycle adds no values.
     */
    private static Node[] flat(Node.AnyOf root) {
        java.util.Set<Node> seen = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        java.util.Set<Node> out = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        List<Node> order = new ArrayList<>();
        java.util.ArrayDeque<Node> todo = new java.util.ArrayDeque<>();
        todo.push(root);
        while (!todo.isEmpty()) {
            Node n = todo.pop();
            if (!n.satisfiable || !seen.add(n)) {
                continue;
            }
            switch (n) {
                case Node.Ref r -> todo.push(r.target);
                case Node.AnyOf a -> {
                    for (int i = a.alternatives.length - 1; i >= 0; i--) {
                        todo.push(a.alternatives[i]); // first alternative first, for stable error messages
                    }
                }
                default -> {
                    if (out.add(n)) {
                        order.add(n);
                    }
                }
            }
        }
        return order.toArray(Node[]::new);
    }

    private static boolean satisfiable(Node n) {
        return switch (n) {
            case Node.Typed t -> t.allowNull || t.allowBool || t.number > 0
                    || t.string != null && t.string.minLength() <= t.string.maxLength()
                    || objectOk(t.object) || arrayOk(t.array);
            case Node.AnyOf a -> {
                for (Node alt : a.alternatives) {
                    if (alt.satisfiable) {
                        yield true;
                    }
                }
                yield false;
            }
            case Node.Literals l -> l.options.length > 0;
            case Node.Ref r -> r.target != null && r.target.satisfiable;
        };
    }

    private static boolean objectOk(Node.ObjectSpec o) {
        if (o == null) {
            return false;
        }
        for (int p = 0; p < o.names.length; p++) {
            if ((o.required >>> p & 1) != 0 && !o.properties[p].satisfiable) {
                return false;
            }
        }
        return true;
    }

    private static boolean arrayOk(Node.ArraySpec a) {
        if (a == null || a.minItems > a.maxItems) {
            return false;
        }
        for (int i = 0; i < a.minItems; i++) {
            Node item = a.item(i);
            if (item == null || !item.satisfiable) {
                return false;
            }
            if (i >= a.prefix.length) {
                break; // the rest share one schema
            }
        }
        return true;
    }

    private static void prune(Node.Typed t) {
        if (t.string != null && t.string.minLength() > t.string.maxLength()) {
            t.string = null;
        }
        if (t.object != null) {
            if (!objectOk(t.object)) {
                t.object = null;
            } else {
                Node.ObjectSpec o = t.object;
                o.viable = 0;
                for (int p = 0; p < o.names.length; p++) {
                    if (o.properties[p].satisfiable) {
                        o.viable |= 1L << p;
                    }
                }
                if (o.additional != null && !o.additional.satisfiable) {
                    o.additional = null;
                }
            }
        }
        if (t.array != null) {
            if (!arrayOk(t.array)) {
                t.array = null;
            } else {
                Node.ArraySpec a = t.array;
                if (a.items != null && !a.items.satisfiable) {
                    a.items = null;
                }
                int cap = a.items == null ? a.prefix.length : Integer.MAX_VALUE;
                for (int i = 0; i < a.prefix.length; i++) {
                    if (!a.prefix[i].satisfiable) {
                        cap = i;
                        break;
                    }
                }
                a.maxItems = Math.min(a.maxItems, cap);
            }
        }
    }

}
