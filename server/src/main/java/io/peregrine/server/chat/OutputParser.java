package io.peregrine.server.chat;

/**
 * Splits one choice's generated stream into reasoning, content and tool calls. Not thread-safe: one instance
 * per choice, fed in order. Text may be held back while it could still be the start of a marker.
 */
public interface OutputParser {

    /** Feeds one step's new token ids and their newly stable text; returns what became certain. */
    ParsedDelta accept(int[] tokenIds, String text);

    /** Generation ended: releases anything held back (an unfinished tool call comes back as content). */
    ParsedDelta finish();
}
