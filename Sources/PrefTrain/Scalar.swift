// The element type of the model: Float for training, Double for gradient checks. Matrix products
// go to OpenBLAS (sgemm / dgemm); everything else is plain loops over flat buffers.
import CBLAS
import Foundation

public protocol GPTScalar: BinaryFloatingPoint, Sendable {
    /// C (m x n) = alpha * op(A) (m x k) * op(B) (k x n) + beta * C, row-major.
    static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Self,
                     a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
                     beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
    static func exp(_ x: Self) -> Self
    static func log(_ x: Self) -> Self
    static func tanh(_ x: Self) -> Self
    static func sqrt(_ x: Self) -> Self
}

extension Float: GPTScalar {
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                            a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                            beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    public static func exp(_ x: Float) -> Float { Foundation.exp(x) }
    public static func log(_ x: Float) -> Float { Foundation.log(x) }
    public static func tanh(_ x: Float) -> Float { Foundation.tanh(x) }
    public static func sqrt(_ x: Float) -> Float { x.squareRoot() }
}

extension Double: GPTScalar {
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double,
                            a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
                            beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int) {
        cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    public static func exp(_ x: Double) -> Double { Foundation.exp(x) }
    public static func log(_ x: Double) -> Double { Foundation.log(x) }
    public static func tanh(_ x: Double) -> Double { Foundation.tanh(x) }
    public static func sqrt(_ x: Double) -> Double { x.squareRoot() }
}

public enum BLAS {
    /// Fixes OpenBLAS's thread count (results are reproducible for a given count).
    public static func setThreads(_ n: Int) {
        _ = core
        openblas_set_num_threads(Int32(max(1, n)))
    }

    /// The OpenBLAS kernels in use, chosen once before the first product: when the library did
    /// not recognize the CPU and fell back to SSE3 kernels, the AVX-512 or AVX2 ones the CPU has
    /// (see CBLAS/shim.h). OPENBLAS_CORETYPE overrides.
    public static let core: String = String(cString: prefkit_blas_select_kernels())
}

/// A flat buffer owned by the model.
public final class Buffer<S: GPTScalar> {
    public let count: Int
    public let p: UnsafeMutablePointer<S>
    public init(_ count: Int) {
        self.count = count
        p = .allocate(capacity: max(1, count))
        p.initialize(repeating: 0, count: max(1, count))
    }
    deinit { p.deallocate() }
    public func zero() { p.update(repeating: 0, count: count) }
    public subscript(i: Int) -> S { get { p[i] } set { p[i] = newValue } }
}
