package io.peregrine.engine.tokenizer;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Finds special-token strings in text. A regex alternation of the 256 strings cost most of the encode time (it
 * tries every alternative at every position), so candidates are looked up by their first two chars instead.
 */
final class SpecialMatcher {
    private final Map<Integer, String[]> byPrefix = new HashMap<>();
    private final boolean[] firstChars = new boolean[Character.MAX_VALUE + 1];

    SpecialMatcher(List<String> specials) {
        Map<Integer, List<String>> groups = new HashMap<>();
        for (String s : specials) {
            if (s.length() < 2) {
                throw new TokenizerException("special token '" + s + "' is shorter than two chars");
            }
            groups.computeIfAbsent(key(s.charAt(0), s.charAt(1)), k -> new ArrayList<>()).add(s);
            firstChars[s.charAt(0)] = true;
        }
        // Longest first, so that no special string shadows a longer one starting at the same place.
        groups.forEach((k, v) -> {
            v.sort(Comparator.comparingInt(String::length).reversed());
            byPrefix.put(k, v.toArray(String[]::new));
        });
    }

    private static int key(char a, char b) {
        return (a << 16) | b;
    }

    /**
     * The first special string in {@code s[from, to)}, or null; on a match {@code found[0]} is its start.
     */
    String find(String s, int from, int to, int[] found) {
        for (int i = from; i + 1 < to; i++) {
            char c = s.charAt(i);
            if (!firstChars[c]) {
                continue;
            }
            String[] candidates = byPrefix.get(key(c, s.charAt(i + 1)));
            if (candidates == null) {
                continue;
            }
            for (String cand : candidates) {
                if (i + cand.length() <= to && s.startsWith(cand, i)) {
                    found[0] = i;
                    return cand;
                }
            }
        }
        return null;
    }
}
