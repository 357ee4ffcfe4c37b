package io.peregrine.engine.runtime;

import io.peregrine.engine.config.ModelConfig;
import io.peregrine.engine.sched.SchedulerConfig;
import io.peregrine.engine.spec.SpeculativeConfig;
import java.util.List;

/**
 * How the serving engine runs.
 *
 * @param maxModelLen       context length served (prompt + max_tokens); longer requests are rejected up front
 * @param maxWaiting        requests queued and not yet scheduled before {@link RejectedException.Kind#QUEUE_FULL}
 * @param eosTokenIds       ids that end a choice unless the request says ignore_eos ({@code ModelConfig.eosTokenIds})
 * @param skipSpecialTokens leave special tokens out of the text (their ids are always in the events)
 * @param speculative       speculative decoding, or null for none
 */
public record EngineConfig(
        SchedulerConfig scheduler,
        int maxModelLen,
        int maxWaiting,
        List<Integer> eosTokenIds,
        boolean skipSpecialTokens,
        SpeculativeConfig speculative) {

    public EngineConfig(SchedulerConfig scheduler, int maxModelLen, int maxWaiting, List<Integer> eosTokenIds,
                        boolean skipSpecialTokens) {
        this(scheduler, maxModelLen, maxWaiting, eosTokenIds, skipSpecialTokens, null);
    }

    public EngineConfig withSpeculative(SpeculativeConfig speculative) {
        return new EngineConfig(scheduler, maxModelLen, maxWaiting, eosTokenIds, skipSpecialTokens, speculative);
    }

    public EngineConfig {
        eosTokenIds = List.copyOf(eosTokenIds);
        if (maxModelLen < 2) {
            throw new IllegalArgumentException("maxModelLen must be >= 2, got " + maxModelLen);
        }
        if (maxWaiting < 1) {
            throw new IllegalArgumentException("maxWaiting must be >= 1, got " + maxWaiting);
        }
    }

    /**
     * The usual configuration for a checkpoint: its eos ids (config plus generation config, so
     * {@code <|im_end|>} ends a turn) and a context of {@code maxModelLen}, at most the model's own.
     */
    public static EngineConfig forModel(ModelConfig model, SchedulerConfig scheduler, int maxModelLen, int maxWaiting) {
        int len = Math.min(maxModelLen, model.text().maxPositionEmbeddings());
        return new EngineConfig(scheduler, len, maxWaiting, model.eosTokenIds(), false);
    }
}
