package io.peregrine.engine.media.video;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import org.junit.jupiter.api.Test;

class RotationTest {

    /** A 3x2 image whose pixel (x, y) has value 10y + x in all channels. */
    private static byte[] image() {
        byte[] rgb = new byte[3 * 2 * 3];
        for (int y = 0; y < 2; y++) {
            for (int x = 0; x < 3; x++) {
                for (int c = 0; c < 3; c++) {
                    rgb[(y * 3 + x) * 3 + c] = (byte) (10 * y + x);
                }
            }
        }
        return rgb;
    }

    private static byte[] gray(int... values) {
        byte[] rgb = new byte[values.length * 3];
        for (int i = 0; i < values.length; i++) {
            rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = (byte) values[i];
        }
        return rgb;
    }

    @Test
    void rotatesClockwise() {
        // source rows: [0 1 2] [10 11 12]
        byte[] src = image();
        assertSame(src, Rotation.rotate(src, 3, 2, 0), "no rotation returns the frame itself");
        assertArrayEquals(gray(10, 0, 11, 1, 12, 2), Rotation.rotate(image(), 3, 2, 90));
        assertArrayEquals(gray(12, 11, 10, 2, 1, 0), Rotation.rotate(image(), 3, 2, 180));
        assertArrayEquals(gray(2, 12, 1, 11, 0, 10), Rotation.rotate(image(), 3, 2, 270));
    }

    @Test
    void displayMatrixAnglesFollowFfmpeg() {
        // av_display_rotation_get returns counter-clockwise degrees; FFmpeg rotates clockwise by its negation.
        assertEquals(90, Rotation.clockwiseDegrees(-90.0));
        assertEquals(270, Rotation.clockwiseDegrees(90.0));
        assertEquals(180, Rotation.clockwiseDegrees(180.0));
        assertEquals(180, Rotation.clockwiseDegrees(-180.0));
        assertEquals(0, Rotation.clockwiseDegrees(0.4));
        assertEquals(0, Rotation.clockwiseDegrees(Double.NaN));
    }
}
