package io.peregrine.engine.sched;

import io.peregrine.engine.kv.BlockTable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One token stream the scheduler moves through the cache: the prompt, then the tokens sampled so far. The
 * latents of positions {@code [0, computed)} are in the blocks of {@link #blockTable()}; the next forward pass
 * feeds positions {@code computed ..}, and once it reaches the last token the logits give the next one.
 * Mutable state owned by the engine thread.
 */
public final class Sequence {
    private final long id;
    private final int promptLength;
    private final long arrivalOrder;
    private final BlockTable blockTable = new BlockTable();
    private int[] tokens;
    private int length;
    private int computed;
    /** The last {@code drafts} tokens are unverified draft tokens (speculative decoding). */
    private int drafts;
    private int cachedPromptTokens = -1;
    private SequenceStatus status = SequenceStatus.WAITING;
    private int preemptions;
    private long[] mediaHashes;
    private List<MediaSpan> media = List.of();
    private PendingMedia pendingMedia;

    /** @param arrivalOrder ties FCFS order: smaller runs first and is preempted last */
    public Sequence(long id, int[] prompt, long arrivalOrder) {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("empty prompt");
        }
        this.id = id;
        this.promptLength = prompt.length;
        this.arrivalOrder = arrivalOrder;
        this.tokens = Arrays.copyOf(prompt, Math.max(16, prompt.length * 2));
        this.length = prompt.length;
    }

    /** A copy of {@code parent} up to {@code computed}, for another choice of the same request. */
    Sequence(long id, Sequence parent) {
        this.id = id;
        this.promptLength = parent.promptLength;
        this.arrivalOrder = parent.arrivalOrder;
        this.tokens = parent.tokens.clone();
        this.length = parent.length;
        this.computed = parent.computed;
        this.cachedPromptTokens = parent.cachedPromptTokens;
        this.mediaHashes = parent.mediaHashes;
        this.media = parent.media;
        this.pendingMedia = parent.pendingMedia;
    }

    public long id() {
        return id;
    }

    public long arrivalOrder() {
        return arrivalOrder;
    }

    public int promptLength() {
        return promptLength;
    }

    /** Prompt plus generated tokens. */
    public int length() {
        return length;
    }

    public int generated() {
        return length - promptLength;
    }

    public int token(int pos) {
        return tokens[pos];
    }

    public int lastToken() {
        return tokens[length - 1];
    }

    /** The backing array; only {@code [0, length())} is meaningful. Do not modify. */
    public int[] tokenArray() {
        return tokens;
    }

    public int[] tokens(int from, int to) {
        return Arrays.copyOfRange(tokens, from, to);
    }

    /** Positions whose latents are in the cache. */
    public int computed() {
        return computed;
    }

    public int uncomputed() {
        return length - computed;
    }

    /** Prompt tokens served from the prefix cache at first admission; -1 before it. */
    public int cachedPromptTokens() {
        return cachedPromptTokens;
    }

    public SequenceStatus status() {
        return status;
    }

    public boolean isFinished() {
        return status == SequenceStatus.FINISHED;
    }

    public int preemptions() {
        return preemptions;
    }

    /** Per block index, the hash of the media content in it (for the prefix cache key); null: text only. */
    public long[] mediaHashes() {
        return mediaHashes;
    }

    public void setMediaHashes(long[] hashes) {
        this.mediaHashes = hashes == null ? null : hashes.clone();
    }

    /**
     * Sets the vision items spliced into the prompt and their per-block content hashes (see
     * {@link MediaSpan#blockHashes}); a recomputed prefill (preemption, a fork without blocks) splices them again.
     */
    public void setMedia(List<MediaSpan> spans, long[] blockHashes) {
        this.media = List.copyOf(spans);
        setMediaHashes(blockHashes);
    }

    public List<MediaSpan> media() {
        return media;
    }

    /**
     * Vision items after all of {@link #media()} whose rows are still arriving (see {@link PendingMedia}); their
     * block hashes must already be in {@link #setMedia}'s.
     */
    public void setPendingMedia(PendingMedia pending) {
        this.pendingMedia = pending;
    }

    /** Null when every media row was there at submission. */
    public PendingMedia pendingMedia() {
        return pendingMedia;
    }

    /**
     * How far the next forward pass may go from {@link #computed()}: {@link #length()}, or the start of the first
     * media span whose rows have not arrived yet (equal to {@code computed()} when the next position is in one).
     */
    public int computableEnd() {
        return computableEnd(computed);
    }

    /** {@link #computableEnd()} for a sequence that would start at {@code from} (after a prefix-cache hit). */
    public int computableEnd(int from) {
        return pendingMedia == null ? length : Math.min(length, pendingMedia.readyEnd(from));
    }

    /**
     * Embedding overrides for positions {@code [from, to)}, or null when none of them is a media position.
     *
     * @throws IllegalStateException when a position in the range belongs to a span whose rows have not arrived
     *                               (the scheduler never asks for one)
     */
    public float[][] inputEmbeddings(int from, int to) {
        if (pendingMedia == null) {
            return media.isEmpty() ? null : MediaSpan.rowsFor(media, from, to);
        }
        if (pendingMedia.readyEnd(from) < to) {
            throw new IllegalStateException("positions " + from + ".." + (to - 1) + " of " + this
                    + " reach media rows that have not arrived");
        }
        List<MediaSpan> all = new ArrayList<>(media);
        all.addAll(pendingMedia.completedSpans());
        return MediaSpan.rowsFor(all, from, to);
    }

    public BlockTable blockTable() {
        return blockTable;
    }

    /** Appends a sampled token; its latent is computed by the next step. */
    public void append(int token) {
        if (length == tokens.length) {
            tokens = Arrays.copyOf(tokens, tokens.length * 2);
        }
        tokens[length++] = token;
    }

    /** Unverified draft tokens at the end of the sequence (0 unless it speculates this step). */
    public int drafts() {
        return drafts;
    }

    /**
     * Appends {@code n} draft tokens after the last token, which is the only uncomputed one: the next step
     * computes the last token and the drafts together and verifies them against its logits.
     */
    public void propose(int[] draft, int n) {
        if (drafts != 0 || length - computed != 1 || status != SequenceStatus.RUNNING) {
            throw new IllegalStateException("drafts need a running sequence with only its last token to compute: "
                    + this);
        }
        for (int i = 0; i < n; i++) {
            append(draft[i]);
        }
        drafts = n;
    }

    /**
     * Takes the drafts out of the sequence (not scheduled, preempted, or verified): the length and, when the
     * step computed them, the computed positions go back to the first draft's position; their slots are
     * rewritten by whatever comes next.
     */
    void dropDrafts() {
        length -= drafts;
        computed = Math.min(computed, length);
        drafts = 0;
    }

    /** After verification: the first {@code n} tokens past {@code computed} equal the drafts whose latents are cached. */
    void keepComputed(int n) {
        if (n < 0 || computed + n >= length) {
            throw new IllegalStateException("keep " + n + " computed past " + computed + "/" + length);
        }
        computed += n;
    }

    void advance(int count) {
        if (count <= 0 || computed + count > length) {
            throw new IllegalStateException("advance " + count + " past " + computed + "/" + length);
        }
        computed += count;
    }

    void startedAt(int cachedTokens) {
        computed = cachedTokens;
        if (cachedPromptTokens < 0) {
            cachedPromptTokens = cachedTokens;
        }
        status = SequenceStatus.RUNNING;
    }

    /** A fork that got no blocks: it recomputes its prompt like a new sequence. */
    void restartWaiting() {
        computed = 0;
        status = SequenceStatus.WAITING;
    }

    void running() {
        status = SequenceStatus.RUNNING;
    }

    void preempted() {
        dropDrafts();
        computed = 0;
        preemptions++;
        status = SequenceStatus.WAITING;
    }

    void finished() {
        status = SequenceStatus.FINISHED;
    }

    @Override
    public String toString() {
        return "Sequence[" + id + ", " + status + ", " + computed + "/" + length
                + (drafts > 0 ? " (" + drafts + " drafts)" : "") + ", blocks " + blockTable + "]";
    }
}
