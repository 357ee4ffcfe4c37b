package io.peregrine.kernels.cuda;

import io.peregrine.engine.backend.TokenCounts;
import java.util.Arrays;

/**
 * One sequence's penalty counts on the device: a slot of {@code vocab} words in its {@link DeviceSampler}'s pool (bit
 * 31 seen in prompt or output, the low bits the output count), which the sampling kernel reads and advances. The
 * vocabulary is known only once logits exist, so a new sequence keeps its prompt ids here until its first sample puts
 * them in a slot; a fork copies the slot on the device. The slot goes back to the pool when this object is collected.
 */
final class DeviceTokenCounts implements TokenCounts {
    private final DeviceSampler owner;
    /** The prompt, until the slot holds it. */
    private int[] prompt;
    /** The slot, or -1 before the first sample. */
    private int slot = -1;

    DeviceTokenCounts(DeviceSampler owner, int[] prompt, int length) {
        this.owner = owner;
        this.prompt = Arrays.copyOf(prompt, length);
    }

    private DeviceTokenCounts(DeviceSampler owner, int slot) {
        this.owner = owner;
        this.slot = slot;
    }

    /** A fork: the prompt again while unplaced, else a device copy of the slot as it is now (ordered on the stream). */
    @Override
    public DeviceTokenCounts copy() {
        if (slot < 0) {
            return new DeviceTokenCounts(owner, prompt, prompt.length);
        }
        DeviceTokenCounts c = new DeviceTokenCounts(owner, -1);
        c.slot = owner.forkSlot(c, slot);
        return c;
    }

    /** The slot, placing the prompt there first if needed (an upload: outside a graph capture). */
    int slot() {
        if (slot < 0) {
            slot = owner.placePrompt(this, prompt);
            prompt = null;
        }
        return slot;
    }

    boolean placed() {
        return slot >= 0;
    }
}
