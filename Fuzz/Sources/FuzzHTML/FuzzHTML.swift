// HTML to Markdown (Stack Exchange post bodies) and entity decoding on arbitrary bytes.
import PrefFormats

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = HTMLText.markdown(bytes)
    _ = HTMLText.decodeEntities(bytes, 0, bytes.count)
    return 0
}
