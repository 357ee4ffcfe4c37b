package io.peregrine.engine.sched;

public enum SequenceStatus {
    /** In the waiting queue: new, or preempted and to be recomputed. Holds no blocks. */
    WAITING,
    /** In the batch: holds blocks and gets tokens scheduled every step. */
    RUNNING,
    /** Done or removed; holds no blocks. */
    FINISHED
}
