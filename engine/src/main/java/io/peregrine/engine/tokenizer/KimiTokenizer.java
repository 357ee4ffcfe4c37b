package io.peregrine.engine.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.function.IntPredicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Kimi K2.x tiktoken BPE: {@code tiktoken.model} ranks, the Kimi pre-tokenizer pattern and the 256 special tokens
 * of {@code tokenizer_config.json}, with Moonshot's long-input guard (spec §5).
 *
 * <p>The byte-pair merge is our own ({@link BytePairEncoder} over a flat {@link RankTable}) rather than JTokkit's:
 * JTokkit reproduces every golden case too, but its boxed hash lookups made it 1.3-1.5x slower on this 163k-token
 * vocabulary (best-of-30 side by side in one JVM on English, Chinese and code). JTokkit stays as the independent
 * twin that {@code BpeTwinTest} compares against. Immutable and safe to share between threads.
 */
public final class KimiTokenizer {
    /** {@code pat_str} verbatim from Moonshot's {@code tokenization_kimi.py} (Rust-regex syntax). */
    public static final String PAT_STR = String.join("|",
            "[\\p{Han}]+",
            "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}&&[^\\p{Han}]]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}&&[^\\p{Han}]]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
            "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}&&[^\\p{Han}]]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}&&[^\\p{Han}]]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
            "\\p{N}{1,3}",
            " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*",
            "\\s*[\\r\\n]+",
            "\\s+(?!\\S)",
            "\\s+");

    /** Moonshot's {@code TIKTOKEN_MAX_ENCODE_CHARS}: text is encoded in windows of this many code points. */
    static final int MAX_ENCODE_CHARS = 400_000;
    /** Moonshot's {@code MAX_NO_WHITESPACES_CHARS}: longest run of same-class (space / non-space) code points. */
    static final int MAX_SAME_CLASS_RUN = 25_000;
    static final int NUM_RESERVED_SPECIAL = 256;

    static final String RESOURCE_DIR = "/io/peregrine/engine/kimi-k25/";

    private final RankTable ranks;
    private final Pattern pattern = javaPattern();
    private final byte[][] tokenBytes;
    private final int numRegular;
    private final List<SpecialToken> specials;
    private final Map<String, Integer> specialIds;
    private final SpecialMatcher specialMatcher;

    private KimiTokenizer(List<byte[]> byRank, byte[][] tokenBytes, List<SpecialToken> specials) {
        this.tokenBytes = tokenBytes;
        this.numRegular = byRank.size();
        this.ranks = new RankTable(byRank);
        this.specials = List.copyOf(specials);
        Map<String, Integer> ids = new HashMap<>();
        for (SpecialToken s : specials) {
            ids.put(s.text(), s.id());
        }
        this.specialIds = Collections.unmodifiableMap(ids);
        this.specialMatcher = new SpecialMatcher(specials.stream().map(SpecialToken::text).toList());
    }

    /** The pre-tokenizer in java.util.regex: {@code \p{IsHan}} for Han, Unicode classes so {@code \s} is White_Space. */
    public static Pattern javaPattern() {
        return Pattern.compile(PAT_STR.replace("\\p{Han}", "\\p{IsHan}"), Pattern.UNICODE_CHARACTER_CLASS);
    }

    /** Loads {@code tiktoken.model} and {@code tokenizer_config.json} from a checkpoint directory. */
    public static KimiTokenizer fromDirectory(Path dir) {
        Path model = dir.resolve("tiktoken.model");
        Path config = dir.resolve("tokenizer_config.json");
        for (Path p : List.of(model, config)) {
            if (!Files.isRegularFile(p)) {
                throw new TokenizerException("tokenizer file missing: " + p.toAbsolutePath());
            }
        }
        try (InputStream m = Files.newInputStream(model); InputStream c = Files.newInputStream(config)) {
            return load(m, model.toString(), c, config.toString());
        } catch (IOException e) {
            throw new TokenizerException("cannot read tokenizer files in " + dir.toAbsolutePath(), e);
        }
    }

    /** The Kimi K2.5 tokenizer bundled with the engine. */
    public static KimiTokenizer bundled() {
        try (InputStream m = resource("tiktoken.model"); InputStream c = resource("tokenizer_config.json")) {
            return load(m, "bundled tiktoken.model", c, "bundled tokenizer_config.json");
        } catch (IOException e) {
            throw new TokenizerException("cannot read the bundled tokenizer", e);
        }
    }

    private static InputStream resource(String name) {
        InputStream in = KimiTokenizer.class.getResourceAsStream(RESOURCE_DIR + name);
        if (in == null) {
            throw new TokenizerException("bundled tokenizer resource missing: " + RESOURCE_DIR + name);
        }
        return in;
    }

    static KimiTokenizer load(InputStream model, String modelName, InputStream config, String configName)
            throws IOException {
        List<byte[]> byRank = readRanks(model, modelName);
        int n = byRank.size();
        JsonNode added = new ObjectMapper().readTree(config).path("added_tokens_decoder");
        List<SpecialToken> specials = new ArrayList<>(NUM_RESERVED_SPECIAL);
        byte[][] bytes = new byte[n + NUM_RESERVED_SPECIAL][];
        for (int i = 0; i < n; i++) {
            bytes[i] = byRank.get(i);
        }
        for (int id = n; id < n + NUM_RESERVED_SPECIAL; id++) {
            JsonNode entry = added.get(Integer.toString(id));
            String text = entry != null ? entry.path("content").asText("") : "";
            if (text.isEmpty()) {
                text = "<|reserved_token_" + id + "|>";
            }
            boolean flag = entry != null && entry.path("special").asBoolean(false);
            specials.add(new SpecialToken(id, text, flag));
            bytes[id] = text.getBytes(StandardCharsets.UTF_8);
        }
        var it = added.fieldNames();
        while (it.hasNext()) {
            String key = it.next();
            int id;
            try {
                id = Integer.parseInt(key);
            } catch (NumberFormatException e) {
                throw new TokenizerException(configName + ": added_tokens_decoder key '" + key + "' is not an id");
            }
            if (id < n || id >= n + NUM_RESERVED_SPECIAL) {
                throw new TokenizerException(configName + ": added token id " + id + " outside the reserved range "
                        + n + ".." + (n + NUM_RESERVED_SPECIAL - 1));
            }
        }
        return new KimiTokenizer(byRank, bytes, specials);
    }

    private static List<byte[]> readRanks(InputStream in, String name) throws IOException {
        List<byte[]> out = new ArrayList<>(170_000);
        Base64.Decoder b64 = Base64.getDecoder();
        BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.US_ASCII), 1 << 16);
        String line;
        int lineNo = 0;
        while ((line = r.readLine()) != null) {
            lineNo++;
            if (line.isEmpty()) {
                continue;
            }
            int sp = line.indexOf(' ');
            if (sp <= 0) {
                throw new TokenizerException(name + ":" + lineNo + ": expected 'base64 rank'");
            }
            int rank;
            byte[] token;
            try {
                token = b64.decode(line.substring(0, sp));
                rank = Integer.parseInt(line.substring(sp + 1).trim());
            } catch (IllegalArgumentException e) {
                throw new TokenizerException(name + ":" + lineNo + ": " + e.getMessage());
            }
            if (rank != out.size()) {
                throw new TokenizerException(name + ":" + lineNo + ": rank " + rank + " where " + out.size()
                        + " was expected (ranks must be contiguous from 0)");
            }
            out.add(token);
        }
        if (out.isEmpty()) {
            throw new TokenizerException(name + ": no tokens");
        }
        return out;
    }

    // ---------------------------------------------------------------------------------------------- encoding

    public int[] encode(String text, SpecialTextPolicy policy) {
        return policy == SpecialTextPolicy.AS_SPECIAL ? encode(text, i -> true) : encode(text, i -> false);
    }

    /** Every special-token string is ordinary text. */
    public int[] encodeOrdinary(String text) {
        return encode(text, i -> false);
    }

    /**
     * Encodes with special-token strings recognised only where {@code specialAllowedAt} accepts their start index
     * (a UTF-16 index into {@code text}): a rendered prompt allows its markers and keeps user content literal,
     * while ordinary text on both sides of a content boundary is still encoded as one run, exactly like the
     * reference encoding of the whole string.
     */
    public int[] encode(String text, IntPredicate specialAllowedAt) {
        IdSink out = new IdSink(Math.max(16, text.length() / 3));
        int cpCount = text.codePointCount(0, text.length());
        if (cpCount <= MAX_SAME_CLASS_RUN) {
            encodeChunk(text, 0, text.length(), specialAllowedAt, out); // no run can exceed the limit
            return out.toArray();
        }
        int windowStart = 0;
        while (windowStart < text.length()) {
            int windowEnd = offsetByCodePointsClamped(text, windowStart, MAX_ENCODE_CHARS);
            splitRuns(text, windowStart, windowEnd, specialAllowedAt, out);
            windowStart = windowEnd;
        }
        return out.toArray();
    }

    private static int offsetByCodePointsClamped(String s, int from, int n) {
        int i = from;
        for (int k = 0; k < n && i < s.length(); k++) {
            i += Character.charCount(s.codePointAt(i));
        }
        return i;
    }

    /** Moonshot's {@code _split_whitespaces_or_nonwhitespaces}, on code points like Python's str. */
    private void splitRuns(String s, int from, int to, IntPredicate allowed, IdSink out) {
        if (from >= to) {
            encodeChunk(s, from, to, allowed, out);
            return;
        }
        boolean runIsSpace = PythonChars.isSpace(s.codePointAt(from));
        int runLen = 0;
        int sliceStart = from;
        for (int i = from; i < to; ) {
            int cp = s.codePointAt(i);
            boolean space = PythonChars.isSpace(cp);
            if (runIsSpace ^ space) {
                runLen = 1;
                runIsSpace = space;
            } else if (++runLen > MAX_SAME_CLASS_RUN) {
                encodeChunk(s, sliceStart, i, allowed, out);
                sliceStart = i;
                runLen = 1;
            }
            i += Character.charCount(cp);
        }
        encodeChunk(s, sliceStart, to, allowed, out);
    }

    private void encodeChunk(String s, int from, int to, IntPredicate allowed, IdSink out) {
        int textStart = from;
        int searchFrom = from;
        int[] at = new int[1];
        String special;
        while ((special = specialMatcher.find(s, searchFrom, to, at)) != null) {
            if (!allowed.test(at[0])) {
                searchFrom = at[0] + 1;
                continue;
            }
            encodeOrdinaryRange(s, textStart, at[0], out);
            out.add(specialIds.get(special));
            textStart = at[0] + special.length();
            searchFrom = textStart;
        }
        encodeOrdinaryRange(s, textStart, to, out);
    }

    /** Pre-tokenizes {@code s[from, to)} (opaque region bounds: lookahead stops at {@code to}, as for a substring). */
    private void encodeOrdinaryRange(String s, int from, int to, IdSink out) {
        if (from >= to) {
            return;
        }
        Matcher m = pattern.matcher(s).region(from, to);
        byte[] piece = new byte[64];
        int[] work = new int[130];
        int[] ids = new int[64];
        while (m.find()) {
            int start = m.start(), end = m.end();
            int n = 0;
            boolean ascii = true;
            for (int i = start; i < end; i++) {
                if (s.charAt(i) >= 0x80) {
                    ascii = false;
                    break;
                }
            }
            byte[] bytes;
            if (ascii) {
                n = end - start;
                if (n > piece.length) {
                    piece = new byte[Math.max(n, piece.length * 2)];
                }
                for (int i = 0; i < n; i++) {
                    piece[i] = (byte) s.charAt(start + i);
                }
                bytes = piece;
            } else {
                bytes = s.substring(start, end).getBytes(StandardCharsets.UTF_8);
                n = bytes.length;
            }
            if (work.length < 2 * (n + 1)) {
                work = new int[2 * (n + 1)];
                ids = new int[n];
            }
            int count = BytePairEncoder.encode(ranks, bytes, n, work, ids, 0);
            for (int i = 0; i < count; i++) {
                out.add(ids[i]);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------- decoding

    RankTable rankTable() {
        return ranks;
    }

    /** The raw bytes of one token; special tokens give their text. */
    public byte[] tokenBytes(int id) {
        checkId(id);
        return tokenBytes[id].clone();
    }

    /** The token's bytes without a copy, for the detokenizer's hot path; callers must not modify them. */
    byte[] tokenBytesView(int id) {
        checkId(id);
        return tokenBytes[id];
    }

    /** Appends the bytes of {@code id} to {@code out}. */
    public void appendBytes(int id, ByteArrayOutputStream out) {
        checkId(id);
        out.writeBytes(tokenBytes[id]);
    }

    public byte[] decodeBytes(int[] ids) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(ids.length * 4);
        for (int id : ids) {
            appendBytes(id, out);
        }
        return out.toByteArray();
    }

    /** Concatenated token bytes decoded as UTF-8, invalid sequences replaced by U+FFFD (like tiktoken). */
    public String decode(int[] ids) {
        return Utf8.decodeReplacing(decodeBytes(ids), 0, -1);
    }

    private void checkId(int id) {
        if (id < 0 || id >= tokenBytes.length) {
            throw new TokenizerException("token id " + id + " outside the vocabulary 0.." + (tokenBytes.length - 1));
        }
    }

    // ---------------------------------------------------------------------------------------------- vocabulary

    public int vocabSize() {
        return tokenBytes.length;
    }

    /** Number of BPE ranks; special ids follow them. */
    public int numRegularTokens() {
        return numRegular;
    }

    public boolean isSpecial(int id) {
        return id >= numRegular && id < tokenBytes.length;
    }

    public List<SpecialToken> specialTokens() {
        return specials;
    }

    public SpecialToken special(int id) {
        if (!isSpecial(id)) {
            throw new TokenizerException("token id " + id + " is not a special token");
        }
        return specials.get(id - numRegular);
    }

    public OptionalInt specialId(String text) {
        Integer id = specialIds.get(text);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    public int requireSpecialId(String text) {
        Integer id = specialIds.get(text);
        if (id == null) {
            throw new TokenizerException("the tokenizer has no special token " + text);
        }
        return id;
    }

    /** Growable int buffer; avoids boxing on the encode path. */
    private static final class IdSink {
        private int[] ids;
        private int size;

        IdSink(int capacity) {
            ids = new int[capacity];
        }

        void add(int id) {
            if (size == ids.length) {
                ids = java.util.Arrays.copyOf(ids, ids.length * 2);
            }
            ids[size++] = id;
        }

        int[] toArray() {
            return java.util.Arrays.copyOf(ids, size);
        }
    }
}
