// Every corpus adapter on every JSON record of the input, and the normalized pair written and
// parsed back. A crash here is a record that would take a conversion down.
import PrefFormats
import PrefIO

let adapters: [FormatAdapter] = {
    var o = FormatOptions()
    o.fieldMap = (try? FormatOptions.parseMap("prompt=q.text,chosen=a,rejected=b,score_chosen=s.0,score_rejected=s.1,id=id,system=sys")) ?? [:]
    return FormatName.allCases.compactMap { Formats.adapter($0, o) }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let reader = RecordReader(MemorySource(bytes), maxRecordBytes: 1 << 16)
    var scanner = JSONScanner()
    while let batch = reader.nextBatch() {
        for i in 0..<batch.count {
            batch.withRecord(i) { buf in
                guard let doc = try? scanner.parse(buf) else { return }
                _ = Formats.detect(doc.root)
                for a in adapters {
                    guard case .pair(let p)? = try? a.convert(doc.root) else { continue }
                    var out = ByteBuffer()
                    p.write(to: &out)
                    var again = JSONScanner()
                    out.bytes.withUnsafeBytes { raw in
                        guard let d2 = try? again.parse(UnsafeRawBufferPointer(rebasing: raw[0..<(raw.count - 1)])) else {
                            fatalError("a written pair does not parse back")
                        }
                        _ = try? Pair.parse(d2.root)
                    }
                }
            }
        }
    }
    return 0
}

// SwiftPM links an executable target's entry point as `<module>_main`; with -parse-as-library there is
// none, so this is it: it hands control to libFuzzer's driver with the function above.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@_cdecl("FuzzAdapters_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var c = argc, v = argv
    return LLVMFuzzerRunDriver(&c, &v, fuzz)
}
