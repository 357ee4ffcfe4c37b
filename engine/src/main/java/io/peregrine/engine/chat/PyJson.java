package io.peregrine.engine.chat;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Python's {@code json.dumps(obj, ensure_ascii=False)}, {@code repr} and {@code str} for plain JSON trees
 * ({@link Map} with String keys, {@link List}, String, Number, Boolean, null), because the template's
 * {@code tojson} and Moonshot's TypeScript tool encoder print values the Python way and the prompt must match
 * byte for byte. Integers (Integer, Long, BigInteger) print as Python ints, Float/Double/BigDecimal as Python floats.
 */
public final class PyJson {
    /** Python string order: by code point, not by UTF-16 unit. */
    public static final Comparator<String> CODE_POINT_ORDER = (a, b) -> {
        int i = 0, j = 0;
        while (i < a.length() && j < b.length()) {
            int ca = a.codePointAt(i), cb = b.codePointAt(j);
            if (ca != cb) {
                return Integer.compare(ca, cb);
            }
            i += Character.charCount(ca);
            j += Character.charCount(cb);
        }
        return Integer.compare(a.length() - i, b.length() - j);
    };

    private PyJson() {}

    /** {@code json.dumps(value, ensure_ascii=False)} with separators {@code ", "} and {@code ": "}. */
    public static String dumps(Object value) {
        return dumps(value, ", ", ": ");
    }

    public static String dumps(Object value, String itemSeparator, String keySeparator) {
        StringBuilder sb = new StringBuilder();
        write(sb, value, itemSeparator, keySeparator);
        return sb.toString();
    }

    private static void write(StringBuilder sb, Object v, String itemSep, String keySep) {
        if (v == null) {
            sb.append("null");
        } else if (v instanceof String s) {
            quote(sb, s);
        } else if (v instanceof Boolean b) {
            sb.append(b ? "true" : "false");
        } else if (v instanceof Number n) {
            sb.append(numberJson(n));
        } else if (v instanceof Map<?, ?> m) {
            sb.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                if (!first) {
                    sb.append(itemSep);
                }
                first = false;
                quote(sb, String.valueOf(e.getKey()));
                sb.append(keySep);
                write(sb, e.getValue(), itemSep, keySep);
            }
            sb.append('}');
        } else if (v instanceof List<?> l) {
            sb.append('[');
            for (int i = 0; i < l.size(); i++) {
                if (i > 0) {
                    sb.append(itemSep);
                }
                write(sb, l.get(i), itemSep, keySep);
            }
            sb.append(']');
        } else {
            throw new IllegalArgumentException("not a JSON value: " + v.getClass().getName());
        }
    }

    /** json's string encoder with ensure_ascii=False: only quote, backslash and C0 controls are escaped. */
    static void quote(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }

    static boolean isInteger(Number n) {
        return n instanceof Integer || n instanceof Long || n instanceof Short || n instanceof Byte
                || n instanceof BigInteger;
    }

    private static String numberJson(Number n) {
        if (isInteger(n)) {
            return n.toString();
        }
        double d = n.doubleValue();
        if (Double.isNaN(d)) {
            return "NaN";
        }
        if (Double.isInfinite(d)) {
            return d > 0 ? "Infinity" : "-Infinity";
        }
        return floatRepr(d);
    }

    /** Python {@code repr(value)} of a JSON scalar: {@code True}, {@code None}, {@code 1.0}, {@code 'x'} are not needed here. */
    public static String reprNumberOrBool(Object v) {
        if (v instanceof Boolean b) {
            return b ? "True" : "False";
        }
        if (v instanceof Number n) {
            if (isInteger(n)) {
                return n.toString();
            }
            double d = n.doubleValue();
            if (Double.isNaN(d)) {
                return "nan";
            }
            if (Double.isInfinite(d)) {
                return d > 0 ? "inf" : "-inf";
            }
            return floatRepr(d);
        }
        throw new IllegalArgumentException("not a number or bool: " + v);
    }

    /**
     * Python {@code str(v)} for a JSON value as an f-string would print it: strings raw, None, True/False,
     * Python floats; containers as Python reprs (rare in schemas; approximated with single-quoted strings).
     */
    public static String str(Object v) {
        if (v == null) {
            return "None";
        }
        if (v instanceof String s) {
            return s;
        }
        if (v instanceof Boolean || v instanceof Number) {
            return reprNumberOrBool(v);
        }
        return repr(v);
    }

    private static String repr(Object v) {
        if (v instanceof String s) {
            return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'";
        }
        if (v instanceof Map<?, ?> m) {
            StringBuilder sb = new StringBuilder("{");
            boolean first = true;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                if (!first) {
                    sb.append(", ");
                }
                first = false;
                sb.append(repr(String.valueOf(e.getKey()))).append(": ").append(repr(e.getValue()));
            }
            return sb.append('}').toString();
        }
        if (v instanceof List<?> l) {
            StringBuilder sb = new StringBuilder("[");
            for (int i = 0; i < l.size(); i++) {
                if (i > 0) {
                    sb.append(", ");
                }
                sb.append(repr(l.get(i)));
            }
            return sb.append(']').toString();
        }
        return str(v);
    }

    /**
     * Python's float repr: the shortest digits that round-trip (Java's {@link Double#toString} gives the same
     * digits), printed positionally when the exponent is in [-4, 16) and as {@code d.ddde+XX} otherwise.
     */
    public static String floatRepr(double d) {
        if (d == 0) {
            return (1 / d < 0) ? "-0.0" : "0.0";
        }
        BigDecimal bd = new BigDecimal(Double.toString(d)).stripTrailingZeros();
        if (bd.precision() == 2) {
            // Java always prints two significant digits; Python prints one when one round-trips (5e-324).
            BigDecimal one = bd.round(new java.math.MathContext(1, java.math.RoundingMode.HALF_EVEN));
            if (Double.parseDouble(one.toString()) == d) {
                bd = one.stripTrailingZeros();
            }
        }
        String digits = bd.unscaledValue().abs().toString();
        int exp = digits.length() - bd.scale() - 1;
        String sign = d < 0 ? "-" : "";
        if (exp >= -4 && exp < 16) {
            String plain = bd.abs().toPlainString();
            if (plain.indexOf('.') < 0) {
                plain += ".0";
            }
            return sign + plain;
        }
        String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
        String e = Integer.toString(Math.abs(exp));
        return sign + mantissa + "e" + (exp < 0 ? "-" : "+") + (e.length() < 2 ? "0" + e : e);
    }

    /** Moonshot's {@code deep_sort_dict}: every map's keys sorted (code-point order), recursively; lists keep order. */
    public static Object deepSort(Object v) {
        if (v instanceof Map<?, ?> m) {
            List<String> keys = new ArrayList<>();
            for (Object k : m.keySet()) {
                keys.add(String.valueOf(k));
            }
            keys.sort(CODE_POINT_ORDER);
            Map<String, Object> out = new LinkedHashMap<>();
            for (String k : keys) {
                out.put(k, deepSort(m.get(k)));
            }
            return out;
        }
        if (v instanceof List<?> l) {
            List<Object> out = new ArrayList<>(l.size());
            for (Object o : l) {
                out.add(deepSort(o));
            }
            return out;
        }
        return v;
    }
}
