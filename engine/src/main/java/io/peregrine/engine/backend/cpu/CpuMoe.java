package io.peregrine.engine.backend.cpu;

import static io.peregrine.engine.backend.HostMemory.host;

import io.peregrine.engine.backend.Activation;
import io.peregrine.engine.backend.HostIndices;
import io.peregrine.engine.backend.HostTensor;
import io.peregrine.engine.backend.MoeBlock;
import io.peregrine.engine.backend.MoeRouter;
import io.peregrine.engine.backend.MoeScratch;
import io.peregrine.engine.backend.Product;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * {@link CpuBackend#moe} over its working memory. The routing result is on the heap, so the experts with rows are
 * known here and only they run: every token routed with {@link MoeRouter}, the assignments laid out by expert (token
 * order within an expert), each held expert's rows gathered, all gate/up products (the shared expert's too) as one
 * parallel region and all down products as another, then the outputs added back weighted in expert order onto the
 * shared expert's. This is the order the model used when it routed on the host, so the bits are unchanged.
 */
final class CpuMoe implements MoeScratch {
    private final int capacity;
    private final int k;
    private final MoeRouter.Scratch routing;
    private final int[] topIdx;
    private final HostTensor topWeight;
    private final HostIndices rows;
    private final HostTensor scale;
    private final int[] count;
    private final int[] first;
    private final HostTensor in;
    private final HostTensor gate;
    private final HostTensor up;
    private final HostTensor out;
    private final HostTensor sharedGate;
    private final HostTensor sharedUp;
    private final HostTensor sharedOut;
    private final List<Product> products = new ArrayList<>();

    CpuMoe(MoeBlock block, int capacity) {
        MoeRouter r = block.router();
        int hidden = block.hidden();
        this.capacity = capacity;
        this.k = r.topK();
        this.routing = r.scratch();
        int assignments = capacity * k;
        topIdx = new int[assignments];
        topWeight = HostTensor.zeros(1, assignments);
        rows = new HostIndices(new int[assignments], 0, assignments);
        scale = HostTensor.zeros(1, assignments);
        count = new int[r.experts()];
        first = new int[r.experts() + 1];
        int inter = Math.max(1, block.experts().inter());
        in = HostTensor.zeros(assignments, hidden);
        gate = HostTensor.zeros(assignments, inter);
        up = HostTensor.zeros(assignments, inter);
        out = HostTensor.zeros(assignments, hidden);
        sharedGate = HostTensor.zeros(capacity, block.sharedInter());
        sharedUp = HostTensor.zeros(capacity, block.sharedInter());
        sharedOut = HostTensor.zeros(capacity, hidden);
    }

    @Override
    public int capacity() {
        return capacity;
    }

    @Override
    public HostIndices chosen(int tokens) {
        return new HostIndices(topIdx, 0, tokens * k);
    }

    @Override
    public HostTensor weights(int tokens) {
        return topWeight.cols(0, tokens * k);
    }

    void run(CpuBackend b, MoeBlock block, HostTensor x, HostTensor logits, float[] bias, HostTensor dst) {
        int n = x.rows();
        CpuExperts experts = (CpuExperts) block.experts();
        int lo = route(block.router(), n, logits, bias, experts.firstExpert());
        int mine = first[experts.firstExpert() + experts.experts()] - lo;
        HostIndices myRows = rows.slice(lo, mine);
        if (mine > 0) {
            b.gatherRows(x, myRows, in.rows(lo, mine));
        }
        HostTensor sg = sharedGate.rows(0, n);
        HostTensor su = sharedUp.rows(0, n);
        HostTensor so = sharedOut.rows(0, n);
        products.clear();
        if (block.hasShared()) {
            products.add(new Product(block.sharedGate(), x, sg));
            products.add(new Product(block.sharedUp(), x, su));
        }
        for (int i = 0; i < experts.experts(); i++) {
            int e = experts.firstExpert() + i;
            if (count[e] > 0) {
                products.add(new Product(experts.gate()[i], in.rows(first[e], count[e]), gate.rows(first[e], count[e])));
                products.add(new Product(experts.up()[i], in.rows(first[e], count[e]), up.rows(first[e], count[e])));
            }
        }
        b.matmulAll(products);

        products.clear();
        if (block.hasShared()) {
            b.siluMul(sg, su, sg);
            products.add(new Product(block.sharedDown(), sg, so));
        }
        for (int i = 0; i < experts.experts(); i++) {
            int e = experts.firstExpert() + i;
            if (count[e] > 0) {
                HostTensor g = gate.rows(first[e], count[e]);
                b.siluMul(g, up.rows(first[e], count[e]), g);
                products.add(new Product(experts.down()[i], g, out.rows(first[e], count[e])));
            }
        }
        b.matmulAll(products);

        b.zero(dst);
        if (block.hasShared()) {
            b.add(so, dst);
        }
        if (mine > 0) {
            b.scatterAddScaled(out.rows(lo, mine), myRows, scale.cols(lo, mine), dst);
        }
    }

    /**
     * Routes every token and lays the assignments out grouped by expert, in token order within an expert: {@link #rows}
     * (the token row), {@link #scale} (its weight), {@link #first}/{@link #count} per expert. Returns the first
     * assignment of expert {@code from}.
     */
    private int route(MoeRouter router, int n, HostTensor logits, float[] bias, int from) {
        int experts = router.experts();
        Arrays.fill(count, 0);
        float[] w = topWeight.data();
        for (int t = 0; t < n; t++) {
            router.route(logits.data(), logits.at(t, 0), bias, topIdx, w, t * k, routing);
            for (int j = 0; j < k; j++) {
                count[topIdx[t * k + j]]++;
            }
        }
        first[0] = 0;
        for (int e = 0; e < experts; e++) {
            first[e + 1] = first[e] + count[e];
        }
        int[] r = rows.data();
        float[] s = scale.data();
        // fill in expert order, token order within an expert; first is restored below
        for (int t = 0; t < n; t++) {
            for (int j = 0; j < k; j++) {
                int at = first[topIdx[t * k + j]]++;
                r[at] = t;
                s[at] = w[t * k + j];
            }
        }
        for (int e = experts; e > 0; e--) {
            first[e] = first[e - 1];
        }
        first[0] = 0;
        return first[from];
    }
}
