// HTML to Markdown (Stack Exchange post bodies) and entity decoding on arbitrary bytes.
import FuzzSupport
import PrefFormats

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let bytes = fuzzBytes(data, size) else { return 0 }
    _ = HTMLText.markdown(bytes)
    _ = HTMLText.decodeEntities(bytes, 0, bytes.count)
    return 0
}

@_cdecl("FuzzHTML_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { runFuzzer(argc, argv, fuzz) }
