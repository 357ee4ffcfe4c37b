package io.peregrine.engine.media.video;

/**
 * {@code timestamp_mode} of the K2.5 processor ({@code media_utils.timestamp_as_str}); K2.5 uses "hh:mm:ss.fff".
 */
public enum TimestampMode {
    HH_MM_SS_FFF("hh:mm:ss.fff"),
    MM_SS_FFF("mm:ss.fff"),
    MM_SS("mm:ss");

    private final String configName;

    TimestampMode(String configName) {
        this.configName = configName;
    }

    public String configName() {
        return configName;
    }

    public static TimestampMode fromConfig(String name) {
        for (TimestampMode m : values()) {
            if (m.configName.equals(name)) {
                return m;
            }
        }
        throw new IllegalArgumentException("unknown timestamp_mode \"" + name + "\" (expected hh:mm:ss.fff, "
                + "mm:ss.fff or mm:ss)");
    }

    /**
     * Formats seconds exactly as the reference does: the clock part comes from
     * {@code datetime.fromtimestamp(t, tz=utc).strftime(...)}, which first rounds t to microseconds (half-even, so
     * 2.9999996 s prints as 00:00:03), and hours wrap at 24; the millisecond part is {@code int((t % 1) * 1000)},
     * truncated and computed from the unrounded t. Both quirks are kept because the model was trained on them.
     */
    public String format(double seconds) {
        if (!(seconds >= 0) || Double.isInfinite(seconds)) {
            throw new IllegalArgumentException("timestamp must be finite and non-negative: " + seconds);
        }
        long whole = (long) Math.floor(seconds);
        double micros = Math.rint((seconds - whole) * 1e6);
        if (micros >= 1e6) {
            whole += 1;
        }
        long s = whole % 60;
        long m = (whole / 60) % 60;
        long h = (whole / 3600) % 24;
        int millis = (int) ((seconds % 1.0) * 1000);
        return switch (this) {
            case HH_MM_SS_FFF -> String.format("%02d:%02d:%02d.%03d", h, m, s, millis);
            case MM_SS_FFF -> String.format("%02d:%02d.%03d", m, s, millis);
            case MM_SS -> String.format("%02d:%02d", m, s);
        };
    }
}
