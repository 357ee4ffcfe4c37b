package io.peregrine.engine.checkpoint;

import io.peregrine.engine.config.ModelConfig;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Checks a checkpoint's tensors against {@link CheckpointLayout} before any compute, collecting every problem
 * instead of stopping at the first, so one run of {@code inspect} shows all that is wrong.
 */
public final class CheckpointValidator {
    private CheckpointValidator() {}

    /** What {@link #validate} found; {@link #isUsable()} when nothing fatal. */
    public record Report(List<TensorSpec> expected, List<CheckpointProblem> problems) {
        public Report {
            expected = List.copyOf(expected);
            problems = List.copyOf(problems);
        }

        public boolean isUsable() {
            return problems.stream().noneMatch(CheckpointProblem::isFatal);
        }

        public List<CheckpointProblem> fatal() {
            return problems.stream().filter(CheckpointProblem::isFatal).toList();
        }

        /** @throws CheckpointException listing every fatal problem when the checkpoint cannot be used */
        public void throwIfUnusable(Object where) {
            List<CheckpointProblem> f = fatal();
            if (!f.isEmpty()) {
                StringBuilder sb = new StringBuilder().append(where).append(": ").append(f.size())
                        .append(f.size() == 1 ? " problem" : " problems").append(" with the tensors the config needs:");
                f.forEach(p -> sb.append("\n  ").append(p));
                throw new CheckpointException(sb.toString());
            }
        }
    }

    public static Report validate(Checkpoint ck) {
        return validate(ck.config(), ck.tensors());
    }

    public static Report validate(ModelConfig config, Map<String, Tensor> tensors) {
        List<TensorSpec> expected = CheckpointLayout.of(config);
        List<CheckpointProblem> problems = new ArrayList<>();
        Map<String, TensorSpec> needed = new HashMap<>();
        for (TensorSpec spec : expected) {
            needed.put(spec.name(), spec);
        }
        for (TensorSpec spec : expected) {
            Tensor t = tensors.get(spec.name());
            if (t == null) {
                problems.add(new CheckpointProblem.Missing(spec));
                continue;
            }
            if (t.dtype() != spec.dtype()) {
                problems.add(new CheckpointProblem.WrongDtype(spec, t.dtype()));
            }
            if (!Arrays.equals(t.shape(), spec.shape())) {
                problems.add(new CheckpointProblem.WrongShape(spec, t.shape()));
            } else if (spec.name().endsWith(".weight_shape") && t.dtype() == spec.dtype()) {
                checkInt4Shape(spec, t, needed, problems);
            }
        }
        for (Tensor t : tensors.values()) {
            if (!needed.containsKey(t.name())) {
                problems.add(new CheckpointProblem.Unexpected(t.name(), t.dtype(), t.shape()));
            }
        }
        return new Report(expected, problems);
    }

    /** {@code weight_shape} must say the (out, in) that the packed tensor's config-derived shape implies. */
    private static void checkInt4Shape(TensorSpec spec, Tensor t, Map<String, TensorSpec> needed,
                                       List<CheckpointProblem> problems) {
        String module = spec.name().substring(0, spec.name().length() - ".weight_shape".length());
        TensorSpec packed = needed.get(module + ".weight_packed");
        if (packed == null) {
            return;
        }
        long rows = (long) t.getFloat(0);
        long cols = (long) t.getFloat(1);
        long wantRows = packed.shape()[0];
        long wantCols = packed.shape()[1] * Int4Group32.PER_WORD;
        if (rows != wantRows || cols != wantCols) {
            problems.add(new CheckpointProblem.WrongValue(spec.name(), "says [" + rows + ", " + cols
                    + "], the config needs [" + wantRows + ", " + wantCols + "]"));
        }
    }
}
