// The Stack Exchange row reader (delimiting, libxml2 per row) and HTML-to-Markdown on every body.
import PrefFormats
import PrefIO

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let reader = XMLRowReader(MemorySource(bytes), attributes: ["Id", "PostTypeId", "Body", "Title"], maxRowBytes: 8192, chunk: 256)
    var rows = 0
    while let item = try? reader.next(), rows < 100_000 {
        rows += 1
        if case .row(_, let v) = item {
            if let b = v[2] { _ = HTMLText.markdown(b) }
            if let t = v[3] { _ = HTMLText.decodeEntities(t, 0, t.count) }
        }
    }
    return 0
}

// SwiftPM links an executable target's entry point as `<module>_main`; with -parse-as-library there is
// none, so this is it: it hands control to libFuzzer's driver with the function above.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@_cdecl("FuzzXML_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var c = argc, v = argv
    return LLVMFuzzerRunDriver(&c, &v, fuzz)
}
