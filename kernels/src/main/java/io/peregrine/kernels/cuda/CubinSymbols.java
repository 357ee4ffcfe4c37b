package io.peregrine.kernels.cuda;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * Reads the function symbols of a cubin (an ELF64 little-endian object) without a CUDA tool: the section headers,
 * then every {@code SHT_SYMTAB} with its linked string table. Used to check, at build and load time, that the
 * compiled module exports every {@link KernelName}.
 */
public final class CubinSymbols {
    private static final int SHT_SYMTAB = 2;
    private static final int STT_FUNC = 2;

    private CubinSymbols() {}

    /** Names of the function symbols. */
    public static Set<String> functions(byte[] elf) {
        ByteBuffer b = ByteBuffer.wrap(elf).order(ByteOrder.LITTLE_ENDIAN);
        if (elf.length < 64 || b.getInt(0) != 0x464c457f) {
            throw new IllegalArgumentException("not an ELF file (" + elf.length + " bytes)");
        }
        if (b.get(4) != 2 || b.get(5) != 1) {
            throw new IllegalArgumentException("not a 64-bit little-endian ELF (class " + b.get(4) + ", data " + b.get(5) + ")");
        }
        long shoff = b.getLong(0x28);
        int shentsize = Short.toUnsignedInt(b.getShort(0x3A));
        int shnum = Short.toUnsignedInt(b.getShort(0x3C));
        if (shoff <= 0 || shoff + (long) shentsize * shnum > elf.length || shentsize < 64) {
            throw new IllegalArgumentException("ELF section headers out of bounds");
        }
        Set<String> out = new LinkedHashSet<>();
        for (int i = 0; i < shnum; i++) {
            int sh = (int) (shoff + (long) i * shentsize);
            if (b.getInt(sh + 4) != SHT_SYMTAB) {
                continue;
            }
            long off = b.getLong(sh + 0x18);
            long size = b.getLong(sh + 0x20);
            int link = b.getInt(sh + 0x28);
            long entsize = b.getLong(sh + 0x38);
            int strSh = (int) (shoff + (long) link * shentsize);
            long strOff = b.getLong(strSh + 0x18);
            long strSize = b.getLong(strSh + 0x20);
            if (entsize < 24 || off + size > elf.length || strOff + strSize > elf.length) {
                throw new IllegalArgumentException("ELF symbol table " + i + " out of bounds");
            }
            for (long s = off; s + entsize <= off + size; s += entsize) {
                int name = b.getInt((int) s);
                int info = b.get((int) s + 4) & 0xF;
                if (info == STT_FUNC && name > 0 && name < strSize) {
                    out.add(cString(elf, (int) (strOff + name)));
                }
            }
        }
        return out;
    }

    private static String cString(byte[] a, int at) {
        int end = at;
        while (end < a.length && a[end] != 0) {
            end++;
        }
        return new String(a, at, end - at, StandardCharsets.US_ASCII);
    }
}
