package io.peregrine.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import jcuda.Pointer;
import jcuda.driver.CUDA_MEMCPY2D;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
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

    @Test
    void launchesRecordedIntoAGraphAreCountedApartFromGraphLaunches() {
        FakeDriver fake = new FakeDriver();
        TrafficCounter counter = new TrafficCounter();
        Driver d = counter.wrap(fake);
        CUstream s = new CUstream();
        d.beginCapture(s);
        d.launch(null, LaunchGeometry.of(1, 32), s, new Object[0]);
        d.launch(null, LaunchGeometry.of(1, 32), s, new Object[0]);
        CUgraph graph = new CUgraph();
        d.endCapture(s, graph);
        CUgraphExec exec = new CUgraphExec();
        d.instantiate(exec, graph);
        d.destroyGraph(graph);
        d.launchGraph(exec, s);
        d.launch(null, LaunchGeometry.of(1, 32), s, new Object[0]);
        assertEquals(2, counter.captured(), "recorded, not run");
        assertEquals(1, counter.graphLaunches());
        assertEquals(1, counter.launches(), "only the launch after the capture ran on its own");
        assertEquals(java.util.List.of("beginCapture", "launch", "launch", "endCapture", "instantiate", "destroyGraph",
                "launchGraph", "launch"), fake.calls.stream().map(FakeDriver.Call::name).toList());
        counter.reset();
        assertEquals(0, counter.captured() + counter.graphLaunches());
    }
}
