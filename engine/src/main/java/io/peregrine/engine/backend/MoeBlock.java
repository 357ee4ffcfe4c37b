package io.peregrine.engine.backend;

import java.util.Objects;

/**
 * A MoE layer as {@link Backend#moe} runs it (spec §3.3): the router's rule, its score correction bias
 * {@code [1, experts]} on the backend, this rank's routed experts and the shared expert ({@code sharedGate},
 * {@code sharedUp} {@code [sharedInter, hidden]}, {@code sharedDown} {@code [hidden, sharedInter]}; all three null
 * when the model has none).
 */
public record MoeBlock(MoeRouter router, Activation bias, ExpertStack experts, LinearWeight sharedGate,
                       LinearWeight sharedUp, LinearWeight sharedDown) {

    public MoeBlock {
        Objects.requireNonNull(router, "router");
        Objects.requireNonNull(bias, "bias");
        Objects.requireNonNull(experts, "experts");
        if (bias.rows() != 1 || bias.cols() != router.experts()) {
            throw new IllegalArgumentException("router bias [" + bias.rows() + ", " + bias.cols() + "] for "
                    + router.experts() + " experts");
        }
        if (experts.firstExpert() < 0 || experts.experts() < 0
                || experts.firstExpert() + experts.experts() > router.experts()) {
            throw new IllegalArgumentException("experts " + experts.firstExpert() + "+" + experts.experts()
                    + " outside the router's " + router.experts());
        }
        if ((sharedGate == null) != (sharedUp == null) || (sharedGate == null) != (sharedDown == null)) {
            throw new IllegalArgumentException("a shared expert needs gate, up and down, or none of them");
        }
        int hidden = sharedGate == null ? experts.hidden() : sharedGate.cols();
        if (sharedGate != null && (sharedUp.cols() != hidden || sharedUp.rows() != sharedGate.rows()
                || sharedDown.rows() != hidden || sharedDown.cols() != sharedGate.rows()
                || (experts.experts() > 0 && experts.hidden() != hidden))) {
            throw new IllegalArgumentException("shared expert " + sharedGate.name() + " [" + sharedGate.rows() + ", "
                    + sharedGate.cols() + "] does not fit the routed experts' hidden " + experts.hidden());
        }
    }

    /**
     * The model's hidden size as the block knows it: the routed experts', else the shared expert's; 0 when this
     * rank holds neither (its output is then zero).
     */
    public int hidden() {
        return experts.experts() > 0 || sharedGate == null ? experts.hidden() : sharedGate.cols();
    }

    public boolean hasShared() {
        return sharedGate != null;
    }

    /** Columns of the shared expert's intermediate activation (1 when there is none, so buffers stay allocatable). */
    public int sharedInter() {
        return sharedGate == null ? 1 : sharedGate.rows();
    }
}
