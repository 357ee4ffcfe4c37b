package io.peregrine.server.media;

import java.net.Inet6Address;
import java.net.InetAddress;

/** Which addresses a media fetch may reach when private networks are off. */
final class NetworkGuard {
    private NetworkGuard() {}

    /** Loopback, unspecified, RFC 1918, link-local, CGNAT, multicast, IPv6 unique-local, IPv4-mapped of those. */
    static boolean isNonPublic(InetAddress a) {
        if (a.isLoopbackAddress() || a.isAnyLocalAddress() || a.isSiteLocalAddress() || a.isLinkLocalAddress()
                || a.isMulticastAddress()) {
            return true;
        }
        byte[] b = a.getAddress();
        if (b.length == 4) {
            int b0 = b[0] & 0xFF;
            int b1 = b[1] & 0xFF;
            return b0 == 0 || (b0 == 100 && b1 >= 64 && b1 < 128) // 0.0.0.0/8, CGNAT 100.64/10
                    || (b0 == 192 && b1 == 0 && (b[2] & 0xFF) == 0) // IETF protocol assignments
                    || b0 >= 240; // reserved, broadcast
        }
        if (a instanceof Inet6Address) {
            if ((b[0] & 0xFE) == 0xFC) { // fc00::/7 unique local
                return true;
            }
            boolean mapped = true; // ::ffff:a.b.c.d
            for (int i = 0; i < 10; i++) {
                mapped &= b[i] == 0;
            }
            if (mapped && (b[10] & 0xFF) == 0xFF && (b[11] & 0xFF) == 0xFF) {
                try {
                    return isNonPublic(InetAddress.getByAddress(new byte[] {b[12], b[13], b[14], b[15]}));
                } catch (java.net.UnknownHostException e) {
                    return true;
                }
            }
        }
        return false;
    }
}
