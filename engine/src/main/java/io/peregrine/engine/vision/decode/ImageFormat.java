package io.peregrine.engine.vision.decode;

/** The encoded formats we accept, recognised by their magic bytes (never by a client-declared MIME type). */
public enum ImageFormat {
    PNG("png"),
    JPEG("jpeg"),
    WEBP("webp"),
    GIF("gif"),
    BMP("bmp");

    private final String imageIoName;

    ImageFormat(String imageIoName) {
        this.imageIoName = imageIoName;
    }

    /** The format name ImageIO's registry knows the reader by. */
    public String imageIoName() {
        return imageIoName;
    }

    /** @return the format, or {@code null} when the bytes start like none of them */
    public static ImageFormat sniff(byte[] b) {
        if (startsWith(b, 0, 0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A)) {
            return PNG;
        }
        if (startsWith(b, 0, 0xFF, 0xD8, 0xFF)) {
            return JPEG;
        }
        if (startsWith(b, 0, 'R', 'I', 'F', 'F') && startsWith(b, 8, 'W', 'E', 'B', 'P')) {
            return WEBP;
        }
        if (startsWith(b, 0, 'G', 'I', 'F', '8')) {
            return GIF;
        }
        if (startsWith(b, 0, 'B', 'M')) {
            return BMP;
        }
        return null;
    }

    private static boolean startsWith(byte[] b, int offset, int... magic) {
        if (b.length < offset + magic.length) {
            return false;
        }
        for (int i = 0; i < magic.length; i++) {
            if ((b[offset + i] & 0xFF) != magic[i]) {
                return false;
            }
        }
        return true;
    }
}
