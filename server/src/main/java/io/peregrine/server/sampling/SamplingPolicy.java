package io.peregrine.server.sampling;

/** How strictly the sampling fields are held to the model vendor's values. */
public enum SamplingPolicy {
    /** Any valid value is honoured; unset fields take Kimi's recommended values. */
    FREE,
    /**
     * The Moonshot API's rules for K2.5, which the Kimi Vendor Verifier checks: temperature 1.0 (thinking) or
     * 0.6 (instant), top_p 0.95, n 1, presence and frequency penalty 0; any other value is a 400.
     */
    MOONSHOT
}
