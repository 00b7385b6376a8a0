// Compression detection and the gzip and zstd readers on arbitrary bytes, output capped at 16 MB
// (a decompression bomb is not a crash; the cap keeps runs fast).
import FuzzSupport
import PrefIO

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let bytes = fuzzBytes(data, size) else { return 0 }
    guard let (src, _) = try? Sources.decoding(MemorySource(bytes)) else { return 0 }
    drain(src)
    return 0
}

@_cdecl("FuzzDecode_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { runFuzzer(argc, argv, fuzz) }
