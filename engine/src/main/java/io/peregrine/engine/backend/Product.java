package io.peregrine.engine.backend;

/**
 * One product of a batch: {@code y[n][w.rows] = x[n][w.cols] · wᵀ} with {@code n = x.rows()}. A batch of them
 * ({@link Backend#matmulAll}) is one parallel region on the CPU.
 */
public record Product(LinearWeight w, Activation x, Activation y) {
    public Product {
        if (x.cols() != w.cols() || y.cols() != w.rows() || x.rows() != y.rows()) {
            throw new IllegalArgumentException(w.name() + " [" + w.rows() + ", " + w.cols() + "]: x is [" + x.rows()
                    + ", " + x.cols() + "], y is [" + y.rows() + ", " + y.cols() + "]");
        }
    }
}
