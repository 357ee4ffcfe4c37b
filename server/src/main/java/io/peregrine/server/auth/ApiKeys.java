package io.peregrine.server.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.List;

/**
 * The accepted API keys. Keys are compared as SHA-256 digests with {@link MessageDigest#isEqual}, over every
 * key without an early exit, so neither the timing nor the length of a guess leaks how close it was.
 */
public final class ApiKeys {
    private final List<byte[]> digests;

    public ApiKeys(List<String> keys) {
        for (String k : keys) {
            if (k == null || k.isBlank()) {
                throw new IllegalArgumentException("an API key must not be empty");
            }
        }
        this.digests = keys.stream().map(ApiKeys::sha256).toList();
    }

    public static ApiKeys none() {
        return new ApiKeys(List.of());
    }

    public boolean required() {
        return !digests.isEmpty();
    }

    /** @param authorization the {@code Authorization} header ("Bearer KEY") or null */
    public boolean accepts(String authorization, String xApiKey) {
        if (digests.isEmpty()) {
            return true;
        }
        String presented = null;
        if (authorization != null && authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            presented = authorization.substring(7).trim();
        } else if (xApiKey != null) {
            presented = xApiKey.trim();
        }
        if (presented == null || presented.isEmpty()) {
            return false;
        }
        byte[] d = sha256(presented);
        boolean ok = false;
        for (byte[] k : digests) {
            ok |= MessageDigest.isEqual(k, d);
        }
        return ok;
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is always present", e);
        }
    }
}
