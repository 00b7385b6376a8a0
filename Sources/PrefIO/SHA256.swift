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

    /// The digest of a file's bytes and its size, read in 4 MB blocks.
    public static func file(_ path: String) throws -> (sha256: String, bytes: Int64) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw OutputError("cannot open \(path): \(errnoText())") }
        defer { close(fd) }
        var h = SHA256()
        var total: Int64 = 0
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 << 20, alignment: 16)
        defer { buf.deallocate() }
        while true {
            let n = read(fd, buf.baseAddress, buf.count)
            if n < 0 {
                if errno == EINTR { continue }
                let e = errnoText(); _ = h.finish()
                throw OutputError("cannot read \(path): \(e)")
            }
            if n == 0 { break }
            h.update(UnsafeRawBufferPointer(rebasing: buf[0..<n]))
            total += Int64(n)
        }
        return (h.finish(), total)
    }
}
