package io.peregrine.engine.sched;

import java.util.List;

/**
 * One step's work: for each slice, {@code count} tokens of a sequence starting at position {@code start}.
 *
 * @param preempted sequences sent back to the waiting queue this step (their blocks are freed; they recompute)
 */
public record ScheduledBatch(List<Slice> slices, List<Sequence> preempted) {
    public ScheduledBatch {
        slices = List.copyOf(slices);
        preempted = List.copyOf(preempted);
    }

    public record Slice(Sequence sequence, int start, int count) {
        /** This slice reaches the sequence's last token, so its logits give the next token. */
        public boolean samples() {
            return start + count == sequence.length();
        }
    }

    public boolean isEmpty() {
        return slices.isEmpty();
    }

    public int tokens() {
        int n = 0;
        for (Slice s : slices) {
            n += s.count();
        }
        return n;
    }
}
