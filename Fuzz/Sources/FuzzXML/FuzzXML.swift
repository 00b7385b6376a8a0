// The Stack Exchange row reader (delimiting, libxml2 per row) and HTML-to-Markdown on every body.
import FuzzSupport
import PrefFormats
import PrefIO

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let bytes = fuzzBytes(data, size) else { return 0 }
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

@_cdecl("FuzzXML_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { runFuzzer(argc, argv, fuzz) }
