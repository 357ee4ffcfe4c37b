package io.peregrine.engine.checkpoint;

import java.util.Arrays;

/** One thing wrong with a checkpoint compared with what its config needs; {@link #toString()} reads as a sentence. */
public sealed interface CheckpointProblem {
    /** The tensor the problem is about. */
    String tensor();

    /** Whether the model can still run: only unused extra tensors are harmless. */
    default boolean isFatal() {
        return true;
    }

    record Missing(TensorSpec expected) implements CheckpointProblem {
        @Override
        public String tensor() {
            return expected.name();
        }

        @Override
        public String toString() {
            return "missing tensor " + expected;
        }
    }

    record WrongDtype(TensorSpec expected, DType actual) implements CheckpointProblem {
        @Override
        public String tensor() {
            return expected.name();
        }

        @Override
        public String toString() {
            return "tensor " + expected.name() + " is " + actual + ", expected " + expected.dtype();
        }
    }

    record WrongShape(TensorSpec expected, long[] actual) implements CheckpointProblem {
        public WrongShape {
            actual = actual.clone();
        }

        @Override
        public String tensor() {
            return expected.name();
        }

        @Override
        public String toString() {
            return "tensor " + expected.name() + " has shape " + Arrays.toString(actual) + ", expected "
                    + Arrays.toString(expected.shape());
        }
    }

    /** An INT4 {@code weight_shape} whose stored (out, in) disagrees with the config. */
    record WrongValue(String tensor, String detail) implements CheckpointProblem {
        @Override
        public String toString() {
            return "tensor " + tensor + ": " + detail;
        }
    }

    /** A tensor the config does not use (e.g. multi-token-prediction layers); it is ignored. */
    record Unexpected(String tensor, DType dtype, long[] shape) implements CheckpointProblem {
        public Unexpected {
            shape = shape.clone();
        }

        @Override
        public boolean isFatal() {
            return false;
        }

        @Override
        public String toString() {
            return "unused tensor " + tensor + " " + dtype + Arrays.toString(shape);
        }
    }
}
