package io.peregrine.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** What the nvcc profile produced, when nvcc was there to produce it (as on this project's CI). */
class CompiledKernelsTest {

    static boolean nvccInstalled() {
        String home = System.getenv("CUDA_HOME");
        return Files.isExecutable(Path.of("/usr/local/bin/nvcc"))
                || (home != null && Files.isExecutable(Path.of(home, "bin", "nvcc")));
    }

    static boolean built() {
        return nvccInstalled() && !"false".equals(System.getProperty("cuda"));
    }

    @Test
    void aMachineWithNvccBuildsTheCubinAndThePtx() {
        assumeTrue(built(), "nvcc is not installed here, or the build ran with -Dcuda=false");
        assertTrue(KernelResources.present(), "nvcc is installed but " + KernelResources.CUBIN + " is not on the class path");
        assertTrue(KernelResources.read(KernelResources.PTX).isPresent(), KernelResources.PTX + " missing");
    }

    @Test
    void theCubinExportsEveryKernelTheHostLaunches() {
        assumeTrue(KernelResources.present(), "built without nvcc");
        Set<String> functions = CubinSymbols.functions(KernelResources.read(KernelResources.CUBIN).orElseThrow());
        for (KernelName k : KernelName.values()) {
            assertTrue(functions.contains(k.symbol()), k.symbol() + " not in " + functions);
        }
        assertEquals(KernelName.values().length, functions.stream().filter(f -> f.startsWith("pg_")).count(),
                "a kernel in the cubin that KernelName does not know: " + functions);
    }

    @Test
    void thePtxTargetsHopperAndUsesTheTensorCores() {
        assumeTrue(KernelResources.present(), "built without nvcc");
        String ptx = new String(KernelResources.read(KernelResources.PTX).orElseThrow(), StandardCharsets.US_ASCII);
        assertTrue(ptx.contains(".target sm_90"), "PTX target");
        assertTrue(ptx.contains("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32"), "prefill products use mma.sync");
        // the decode GEMVs' weight loads are 16 bytes wide
        assertTrue(ptx.contains("ld.global.nc.v4.u32") || ptx.contains("ld.global.nc.v4.b32"), "16-byte weight loads");
    }

    static Path cuobjdump() {
        for (String dir : new String[] {System.getenv("CUDA_HOME") == null ? "/usr/local/cuda" : System.getenv("CUDA_HOME"),
                "/usr/local/cuda-13.0", "/usr/local/cuda", "/usr"}) {
            Path p = Path.of(dir, "bin", "cuobjdump");
            if (Files.isExecutable(p)) {
                return p;
            }
        }
        return null;
    }

    /** Where a disassembler is installed (not on this project's build machine today): the SASS says what it should. */
    @Test
    void theSassUsesTheInstructionsTheKernelsWereWrittenFor() throws Exception {
        assumeTrue(KernelResources.present(), "built without nvcc");
        Path tool = cuobjdump();
        assumeTrue(tool != null, "no cuobjdump here");
        Path cubin = Files.createTempFile("peregrine", ".cubin");
        try {
            Files.write(cubin, KernelResources.read(KernelResources.CUBIN).orElseThrow());
            Process p = new ProcessBuilder(tool.toString(), "-sass", cubin.toString()).redirectErrorStream(true).start();
            String sass = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            assertEquals(0, p.waitFor(), sass);
            String wgmma = section(sass, "pg_bf16_gemm_wgmma");
            assertTrue(wgmma.contains("HGMMA"), "the wgmma kernel has no HGMMA");
            assertTrue(section(sass, "pg_int4_grouped_gemm_mma").contains("HMMA"), "the mma.sync kernel has no HMMA");
            assertTrue(section(sass, "pg_mla_decode_partial_mma").contains("HMMA"), "tensor-core MLA has no HMMA");
            assertTrue(section(sass, "pg_int4_grouped_gemv").contains("LDG.E.128"), "decode GEMV loads are not 16 bytes");
            assertTrue(!sass.contains("LDL") && !sass.contains("STL"), "a kernel uses local memory");
        } finally {
            Files.deleteIfExists(cubin);
        }
    }

    /** The disassembly of one function: from its header to the next function's. */
    private static String section(String sass, String fn) {
        int at = sass.indexOf("Function : " + fn + "\n");
        assertTrue(at >= 0, fn + " not in the SASS");
        int next = sass.indexOf("Function : ", at + 11);
        return next < 0 ? sass.substring(at) : sass.substring(at, next);
    }

    @Test
    void symbolReaderRefusesWhatIsNotAnElfObject() {
        var e = assertThrows(IllegalArgumentException.class, () -> CubinSymbols.functions("hello, world, not elf at all, padding to sixty-four bytes......".getBytes(StandardCharsets.US_ASCII)));
        assertTrue(e.getMessage().contains("not an ELF"), e.getMessage());
    }
}
