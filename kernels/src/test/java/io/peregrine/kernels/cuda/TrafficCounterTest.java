package io.peregrine.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import jcuda.Pointer;
import jcuda.driver.CUDA_MEMCPY2D;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUmemorytype;
import jcuda.driver.CUstream;
import org.junit.jupiter.api.Test;

/** The counter sees launches, both directions of 1-D and 2-D copies and synchronisations, and passes each call on. */
class TrafficCounterTest {

    @Test
    void countsWhatPassesThroughAndDelegatesIt() {
        FakeDriver fake = new FakeDriver();
        TrafficCounter counter = new TrafficCounter();
        Driver d = counter.wrap(fake);
        CUstream s = new CUstream();
        d.launch(null, LaunchGeometry.of(1, 32), s, new Object[0]);
        d.copyToDevice(new CUdeviceptr(), Pointer.to(new int[4]), 16, s);
        d.copyToHost(Pointer.to(new int[2]), new CUdeviceptr(), 8, s);
        CUDA_MEMCPY2D up = new CUDA_MEMCPY2D();
        up.srcMemoryType = CUmemorytype.CU_MEMORYTYPE_HOST;
        up.dstMemoryType = CUmemorytype.CU_MEMORYTYPE_DEVICE;
        up.WidthInBytes = 12;
        up.Height = 3;
        d.copy2D(up, s);
        CUDA_MEMCPY2D onDevice = new CUDA_MEMCPY2D();
        onDevice.srcMemoryType = CUmemorytype.CU_MEMORYTYPE_DEVICE;
        onDevice.dstMemoryType = CUmemorytype.CU_MEMORYTYPE_DEVICE;
        onDevice.WidthInBytes = 100;
        onDevice.Height = 1;
        d.copy2D(onDevice, s);
        d.synchronize(s);
        assertEquals(1, counter.launches());
        assertEquals(16 + 36, counter.bytesUp());
        assertEquals(8, counter.bytesDown(), "a device-to-device copy is not host traffic");
        assertEquals(1, counter.synchronisations());
        assertEquals(6, fake.calls.size(), "every call reached the driver underneath");
        counter.reset();
        assertEquals(0, counter.launches() + counter.bytesUp() + counter.bytesDown() + counter.synchronisations());
    }
}
