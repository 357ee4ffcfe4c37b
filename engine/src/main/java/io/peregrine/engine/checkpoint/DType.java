package io.peregrine.engine.checkpoint;

/** The safetensors element types that Kimi checkpoints use, with their on-disk names and sizes. */
public enum DType {
    BF16("BF16", 2),
    F16("F16", 2),
    F32("F32", 4),
    F64("F64", 8),
    I8("I8", 1),
    I16("I16", 2),
    I32("I32", 4),
    I64("I64", 8),
    U8("U8", 1),
    BOOL("BOOL", 1),
    F8_E4M3("F8_E4M3", 1),
    F8_E5M2("F8_E5M2", 1);

    private final String safetensorsName;
    private final int bytes;

    DType(String safetensorsName, int bytes) {
        this.safetensorsName = safetensorsName;
        this.bytes = bytes;
    }

    public String safetensorsName() {
        return safetensorsName;
    }

    public int bytes() {
        return bytes;
    }

    /** @return the type, or {@code null} when the name is not one this reader supports */
    public static DType fromSafetensors(String name) {
        for (DType t : values()) {
            if (t.safetensorsName.equals(name)) {
                return t;
            }
        }
        return null;
    }
}
