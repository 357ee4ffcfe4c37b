package io.peregrine.kernels.nccl;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * A fake NCCL that records each call with its arguments (addresses as offsets from a base, so tests can read them)
 * and answers with a chosen result code.
 */
final class RecordingNccl implements NcclApi {
    final List<String> calls = new ArrayList<>();
    final long base;
    int failWith = SUCCESS;
    String failOn = "";

    RecordingNccl(long base) {
        this.base = base;
    }

    private String at(MemorySegment s) {
        return s.equals(MemorySegment.NULL) ? "null" : "+" + (s.address() - base);
    }

    private int record(String call) {
        calls.add(call);
        return call.startsWith(failOn + "(") ? failWith : SUCCESS;
    }

    @Override
    public int getVersion(MemorySegment version) {
        version.set(java.lang.foreign.ValueLayout.JAVA_INT, 0, 22105);
        return record("getVersion()");
    }

    @Override
    public int getUniqueId(MemorySegment id) {
        for (int i = 0; i < UNIQUE_ID_BYTES; i++) {
            id.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, (byte) (i * 7 + 1));
        }
        return record("getUniqueId()");
    }

    @Override
    public int commInitRank(MemorySegment commOut, int nranks, MemorySegment id, int rank) {
        commOut.set(java.lang.foreign.ValueLayout.ADDRESS, 0, MemorySegment.ofAddress(0xC0FFEE));
        return record("commInitRank(" + nranks + ", id[1]=" + id.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 1) + ", "
                + rank + ")");
    }

    @Override
    public int commDestroy(MemorySegment comm) {
        return record("commDestroy(" + Long.toHexString(comm.address()) + ")");
    }

    @Override
    public int commAbort(MemorySegment comm) {
        return record("commAbort(" + Long.toHexString(comm.address()) + ")");
    }

    @Override
    public String errorString(int result) {
        return result == 5 ? "invalid usage (run with NCCL_DEBUG=WARN for details)" : "error " + result;
    }

    @Override
    public int allReduce(MemorySegment send, MemorySegment recv, long count, int datatype, int op, MemorySegment comm,
                         MemorySegment stream) {
        return record("allReduce(" + at(send) + ", " + at(recv) + ", " + count + ", " + datatype + ", " + op + ", "
                + Long.toHexString(comm.address()) + ", " + at(stream) + ")");
    }

    @Override
    public int allGather(MemorySegment send, MemorySegment recv, long sendCount, int datatype, MemorySegment comm,
                         MemorySegment stream) {
        return record("allGather(" + at(send) + ", " + at(recv) + ", " + sendCount + ", " + datatype + ")");
    }

    @Override
    public int reduceScatter(MemorySegment send, MemorySegment recv, long recvCount, int datatype, int op,
                             MemorySegment comm, MemorySegment stream) {
        return record("reduceScatter(" + at(send) + ", " + at(recv) + ", " + recvCount + ", " + datatype + ", " + op + ")");
    }

    @Override
    public int broadcast(MemorySegment send, MemorySegment recv, long count, int datatype, int root, MemorySegment comm,
                         MemorySegment stream) {
        return record("broadcast(" + at(send) + ", " + at(recv) + ", " + count + ", " + datatype + ", root " + root + ")");
    }

    @Override
    public int send(MemorySegment buf, long count, int datatype, int peer, MemorySegment comm, MemorySegment stream) {
        return record("send(" + at(buf) + ", " + count + ", to " + peer + ")");
    }

    @Override
    public int recv(MemorySegment buf, long count, int datatype, int peer, MemorySegment comm, MemorySegment stream) {
        return record("recv(" + at(buf) + ", " + count + ", from " + peer + ")");
    }

    @Override
    public int groupStart() {
        return record("groupStart()");
    }

    @Override
    public int groupEnd() {
        return record("groupEnd()");
    }
}
