// The Stack Exchange row reader (delimiting, libxml2 per row) and HTML-to-Markdown on every body.
import PrefFormats
import PrefIO

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let reader = XMLRowReader(MemorySource(bytes), attributes: ["Id", "PostTypeId", "Body", "Title"], maxRowBytes: 8192)
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
