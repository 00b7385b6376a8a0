// The glue every fuzz target shares. SwiftPM links an executable target's entry point as
// `<module>_main`; with -parse-as-library there is none, so each target defines that symbol in
// one line and hands control to libFuzzer's driver here, with its LLVMFuzzerTestOneInput.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

public func runFuzzer(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                      _ test: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt {
    var c = argc, v = argv
    return LLVMFuzzerRunDriver(&c, &v, test)
}

import PrefIO

/// Reads a source to its end or to `cap` bytes (a decompression bomb is not a crash; the cap keeps
/// runs fast), ignoring errors: a target looks for crashes, not for refusals.
public func drain(_ src: ByteSource, cap: Int = 16 << 20, chunk: Int = 1 << 16) {
    var buf = [UInt8](repeating: 0, count: chunk)
    var total = 0
    while total < cap {
        guard let n = try? buf.withUnsafeMutableBytes({ try src.read(into: $0) }), n > 0 else { break }
        total += n
    }
}

/// The fuzzer's input as bytes.
public func fuzzBytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8]? {
    guard let data else { return nil }
    return Array(UnsafeBufferPointer(start: data, count: size))
}

#if canImport(Glibc)
import Glibc
#endif

/// A private temp file the target rewrites for every input (readers that take a path: Parquet,
/// phase files, model directories). Created once per process.
public final class ScratchFile: @unchecked Sendable {
    public let path: String
    let fd: Int32
    public init(name: String, in dir: String? = nil) {
        let base = dir ?? {
            var t = Array("/tmp/prefkit-fuzz-XXXXXX".utf8CString)
            return t.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        }()
        path = base + "/" + name
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600)
    }
    /// Replaces the file's content with `bytes`.
    public func write(_ bytes: [UInt8]) {
        _ = ftruncate(fd, 0)
        _ = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }
}
