package io.peregrine.engine.media;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.peregrine.engine.media.MediaInputException.Reason;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.junit.jupiter.api.Test;

class DataUrlTest {

    @Test
    void parsesTypeAndPayload() {
        byte[] payload = "hello video".getBytes(StandardCharsets.UTF_8);
        String b64 = Base64.getEncoder().encodeToString(payload);
        DataUrl u = DataUrl.parse("data:Video/MP4;base64," + b64, 100, "part");
        assertEquals("video/mp4", u.mediaType());
        assertEquals(DataUrl.Kind.VIDEO, u.kind());
        assertArrayEquals(payload, u.bytes());
        assertEquals(DataUrl.Kind.PDF, DataUrl.parse("data:application/pdf;base64," + b64, 100, "p").kind());
        assertEquals(DataUrl.Kind.VIDEO, DataUrl.parse("data:video/x-matroska;codecs=avc1;base64," + b64, 100, "p").kind());
        assertEquals(DataUrl.Kind.IMAGE, DataUrl.parse("data:image/png;base64," + b64, 100, "p").kind());
        // Line-wrapped base64 still decodes.
        String wrapped = b64.substring(0, 4) + "\r\n" + b64.substring(4);
        assertArrayEquals(payload, DataUrl.parse("data:video/webm;base64," + wrapped, 100, "p").bytes());
    }

    @Test
    void rejectsWhatIsNotABase64DataUrl() {
        assertEquals(Reason.UNSUPPORTED_FORMAT, reason("https://example.com/v.mp4", 100));
        assertEquals(Reason.CORRUPT, reason("data:video/mp4;base64", 100));
        assertEquals(Reason.UNSUPPORTED_FORMAT, reason("data:video/mp4,raw", 100));
        assertEquals(Reason.CORRUPT, reason("data:video/mp4;base64,@@@@", 100));
        String big = Base64.getEncoder().encodeToString(new byte[300]);
        assertEquals(Reason.TOO_LARGE, reason("data:video/mp4;base64," + big, 200));
        assertEquals(Reason.TOO_LARGE, reason("data:video/mp4;base64," + big, 299));
    }

    private static Reason reason(String url, long max) {
        return assertThrows(MediaInputException.class, () -> DataUrl.parse(url, max, "p")).reason();
    }
}
