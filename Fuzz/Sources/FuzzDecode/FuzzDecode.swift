// Compression detection and the gzip and zstd readers on arbitrary bytes, output capped at 16 MB
// (a decompression bomb is not a crash; the cap keeps runs fast).
import PrefIO

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let (src, _) = try? Sources.decoding(MemorySource(bytes)) else { return 0 }
    var buf = [UInt8](repeating: 0, count: 1 << 16)
    var total = 0
    while total < 16 << 20 {
        guard let n = try? buf.withUnsafeMutableBytes({ try src.read(into: $0) }), n > 0 else { break }
        total += n
    }
    return 0
}

// SwiftPM links an executable target's entry point as `<module>_main`; with -parse-as-library there is
// none, so this is it: it hands control to libFuzzer's driver with the function above.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@_cdecl("FuzzDecode_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var c = argc, v = argv
    return LLVMFuzzerRunDriver(&c, &v, fuzz)
}
