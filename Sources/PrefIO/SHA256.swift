import CCrypto
import Foundation

/// SHA-256 (OpenSSL's libcrypto), as lowercase hex: a run's inputs and outputs in manifests.
public struct SHA256 {
    private let ctx: OpaquePointer

    public init() {
        ctx = EVP_MD_CTX_new()
        EVP_DigestInit_ex(ctx, EVP_sha256(), nil)
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        if bytes.count > 0 { EVP_DigestUpdate(ctx, bytes.baseAddress, bytes.count) }
    }

    public mutating func update<C: ContiguousBytes>(_ bytes: C) { bytes.withUnsafeBytes { update($0) } }

    /// The digest in hex; the hasher cannot be used after this.
    public func finish() -> String {
        var out = [UInt8](repeating: 0, count: 32)
        var n: UInt32 = 0
        EVP_DigestFinal_ex(ctx, &out, &n)
        EVP_MD_CTX_free(ctx)
        return out.prefix(Int(n)).map { String(format: "%02x", $0) }.joined()
    }

    public static func hex<C: ContiguousBytes>(_ bytes: C) -> String {
        var h = SHA256(); h.update(bytes); return h.finish()
    }

    /// The digest of a file's bytes and its size.
    public static func file(_ path: String) throws -> (sha256: String, bytes: Int64) {
        var h = SHA256()
        let bytes: Int64
        do { bytes = try FileSource.eachBlock(of: path) { h.update($0) } } catch { _ = h.finish(); throw error }
        return (h.finish(), bytes)
    }
}
