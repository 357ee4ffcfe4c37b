package io.peregrine.engine.backend.cpu;

import io.peregrine.engine.backend.ExpertStack;
import io.peregrine.engine.backend.LinearWeight;
import java.util.List;

/** The CPU's {@link ExpertStack}: the experts' own weights (mapped BF16 or repacked INT4), in expert order. */
record CpuExperts(int firstExpert, int hidden, int inter, LinearWeight[] gate, LinearWeight[] up, LinearWeight[] down)
        implements ExpertStack {

    static CpuExperts of(int firstExpert, List<LinearWeight> gate, List<LinearWeight> up, List<LinearWeight> down) {
        int n = gate.size();
        if (up.size() != n || down.size() != n || firstExpert < 0) {
            throw new IllegalArgumentException("expert stack from " + firstExpert + ": " + gate.size() + " gate, "
                    + up.size() + " up, " + down.size() + " down weights");
        }
        int hidden = n == 0 ? 0 : gate.getFirst().cols();
        int inter = n == 0 ? 0 : gate.getFirst().rows();
        for (int e = 0; e < n; e++) {
            LinearWeight g = gate.get(e);
            LinearWeight u = up.get(e);
            LinearWeight d = down.get(e);
            if (g.rows() != inter || g.cols() != hidden || u.rows() != inter || u.cols() != hidden
                    || d.rows() != hidden || d.cols() != inter) {
                throw new IllegalArgumentException("expert " + (firstExpert + e) + " (" + g.name() + "): gate ["
                        + g.rows() + ", " + g.cols() + "], up [" + u.rows() + ", " + u.cols() + "], down [" + d.rows()
                        + ", " + d.cols() + "] in a stack of [" + inter + ", " + hidden + "]");
            }
        }
        return new CpuExperts(firstExpert, hidden, inter, gate.toArray(LinearWeight[]::new),
                up.toArray(LinearWeight[]::new), down.toArray(LinearWeight[]::new));
    }

    @Override
    public int experts() {
        return gate.length;
    }
}
